//! The backbones the feature extractor can embed with (DESIGN §4, paper §III): which networks
//! there are, how big their features and inputs are, and how each is built from a local
//! safetensors file.
//!
//! * **EfficientNet-Lite0**: our own port with shipped weights ([`super::lite0`]).
//! * **ResNet50** (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) and
//!   **EfficientNet-B0…B7** (Tan & Le, ICML 2019): weights the user supplies, in **timm's
//!   names** (`timm.create_model("resnet50")`, `"efficientnet_b3"`, … then `state_dict()`
//!   saved as safetensors; Hugging Face's `timm/*` repositories ship exactly such files).
//!   The classifier (`fc.*`, `classifier.*`) and `num_batches_tracked` may be in the file;
//!   they are not read.
//!
//! ## Why not candle-transformers' models
//! candle-transformers 0.11 has both networks, and neither will do:
//! * Its ResNet is a closure (`Func`) that calls every batch norm with `train = false`, so a
//!   fine-tuning pass would neither normalise with batch statistics nor update the running
//!   averages, and nothing reaches the feature map. Its names (`conv1`, `bn1`,
//!   `layer1.0.downsample.{0,1}`, `fc`) are torchvision's, which timm's ResNet shares.
//! * Its EfficientNet is inference-only too, is named like torchvision's
//!   (`features.1.0.block.0.0.weight`, `classifier.1`), and pads the TensorFlow way
//!   ("SAME") with batch-norm ε = 1e-3, which matches neither torchvision's nor timm's
//!   `efficientnet_b*` (symmetric padding, ε = 1e-5). Renaming timm's tensors for it
//!   (`VarBuilder::rename_f`) would load them, but into a slightly different network.
//!
//! So both are written here in candle's struct style (one struct per block, `new(vb, cfg)`,
//! names from `vb.pp`, `train` through `forward_t`), with timm's names. candle-transformers
//! stays a dev-dependency: the tests check our ResNet50 against its one (same names, eval
//! mode) and our EfficientNet with [`ConvPadding::TfSame`] against its one (through a
//! timm → torchvision rename). EfficientNet runs channels-last with 1×1 convolutions as
//! matrix products and, on the CPU, the direct depthwise kernel of [`super::depthwise`]
//! (Candle's grouped convolution is one convolution per channel; PERF_NOTES, finding 1).
//!
//! [`load_backbone`] first checks every tensor's name and shape
//! ([`super::weights::load_safetensors_checked`]), so a wrong file is reported by the tensor
//! it lacks, e.g. `resnet50.safetensors: mismatched weights: layer4.2.conv3.weight
//! [2048, 512, 1, 1] is missing (is this a timm ResNet50 checkpoint?)`. The list checked is
//! the one the constructors ask for ([`expected_weights`] builds the network on a backend
//! that only records names and shapes), so check and model cannot drift apart.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{DType, Device, Module, ModuleT, Result, Shape, Tensor, bail};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, Linear, VarBuilder};

use super::depthwise::{Activation, DepthwiseConv2d, Padding2d, weight_to_hwc};
use super::lite0::{
    BatchNormMode, BlockConfig, Kernels, Lite0, Lite0Config, bn_channels_last, drop_path,
};
use super::weights::load_safetensors_checked;
use crate::error::Error;
use crate::vision::preprocess::Preprocess;

/// Tensor names with their shapes.
pub type NamedShapes = Vec<(String, Vec<usize>)>;

/// A backbone architecture, named as systems, configs and the CLI name it ([`Self::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackboneKind {
    /// EfficientNet-Lite0, our port with shipped ImageNet weights.
    Lite0,
    /// ResNet50, from timm `resnet50` weights.
    ResNet50,
    /// EfficientNet-B0…B7 (the number), from timm `efficientnet_b*` weights. Only 0–7 exist:
    /// [`BackboneKind::parse`] makes no other, the loaders refuse one, and the describing
    /// methods answer for a larger number as for B7.
    EfficientNetB(u8),
}

/// One of EfficientNet-B0…B7: the compound scaling of the paper's Table 1 / §3.3.
struct BVariant {
    name: &'static str,
    /// Channel multiplier (width).
    width: f64,
    /// Block-count multiplier (depth).
    depth: f64,
    input_px: u32,
    /// Classifier dropout in training (not used by the backbone; kept for the config).
    dropout: f32,
    /// `round_filters(1280 · width)`: the pooled feature size.
    feature_dim: usize,
}

const B_VARIANTS: [BVariant; 8] = [
    BVariant::new("efficientnet-b0", 1.0, 1.0, 224, 0.2, 1280),
    BVariant::new("efficientnet-b1", 1.0, 1.1, 240, 0.2, 1280),
    BVariant::new("efficientnet-b2", 1.1, 1.2, 260, 0.3, 1408),
    BVariant::new("efficientnet-b3", 1.2, 1.4, 300, 0.3, 1536),
    BVariant::new("efficientnet-b4", 1.4, 1.8, 380, 0.4, 1792),
    BVariant::new("efficientnet-b5", 1.6, 2.2, 456, 0.4, 2048),
    BVariant::new("efficientnet-b6", 1.8, 2.6, 528, 0.5, 2304),
    BVariant::new("efficientnet-b7", 2.0, 3.1, 600, 0.5, 2560),
];

impl BVariant {
    const fn new(
        name: &'static str,
        width: f64,
        depth: f64,
        input_px: u32,
        dropout: f32,
        feature_dim: usize,
    ) -> Self {
        Self {
            name,
            width,
            depth,
            input_px,
            dropout,
            feature_dim,
        }
    }

    /// B`n`, or B7 for a larger `n` (see [`BackboneKind::EfficientNetB`]).
    fn get(n: u8) -> &'static BVariant {
        &B_VARIANTS[usize::from(n).min(B_VARIANTS.len() - 1)]
    }
}

impl BackboneKind {
    /// Every backbone, Lite0 first.
    pub const ALL: [BackboneKind; 10] = [
        BackboneKind::Lite0,
        BackboneKind::ResNet50,
        BackboneKind::EfficientNetB(0),
        BackboneKind::EfficientNetB(1),
        BackboneKind::EfficientNetB(2),
        BackboneKind::EfficientNetB(3),
        BackboneKind::EfficientNetB(4),
        BackboneKind::EfficientNetB(5),
        BackboneKind::EfficientNetB(6),
        BackboneKind::EfficientNetB(7),
    ];

    /// The kind [`Self::as_str`] names; also accepts `lite0`, timm's underscores
    /// (`efficientnet_b3`) and any letter case.
    pub fn parse(name: &str) -> crate::Result<Self> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        if wanted == "lite0" {
            return Ok(BackboneKind::Lite0);
        }
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == wanted)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown backbone {name:?}: expected efficientnet-lite0 (or lite0), \
                     resnet50, or efficientnet-b0 … efficientnet-b7"
                ))
            })
    }

    /// The backbone's name: `efficientnet-lite0` (as system files already name it),
    /// `resnet50`, `efficientnet-b0` … `efficientnet-b7`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackboneKind::Lite0 => "efficientnet-lite0",
            BackboneKind::ResNet50 => "resnet50",
            BackboneKind::EfficientNetB(n) => BVariant::get(n).name,
        }
    }

    /// The width of the pooled features: 1280 (Lite0), 2048 (ResNet50), `round(1280 · w)`
    /// for B0…B7 (1280, 1280, 1408, 1536, 1792, 2048, 2304, 2560).
    pub fn feature_dim(self) -> usize {
        match self {
            BackboneKind::Lite0 => 1280,
            BackboneKind::ResNet50 => 2048,
            BackboneKind::EfficientNetB(n) => BVariant::get(n).feature_dim,
        }
    }

    /// The side of the square input the weights were trained at: 224 for Lite0, ResNet50
    /// and B0, then 240, 260, 300, 380, 456, 528, 600 for B1…B7.
    pub fn input_px(self) -> u32 {
        match self {
            BackboneKind::Lite0 | BackboneKind::ResNet50 => 224,
            BackboneKind::EfficientNetB(n) => BVariant::get(n).input_px,
        }
    }

    /// How images are prepared for this backbone: its input side and the normalisation its
    /// weights were trained with (Lite0's `(rgb − 127) / 128`, ImageNet mean/std otherwise).
    pub fn preprocess(self) -> Preprocess {
        match self {
            BackboneKind::Lite0 => Preprocess::LITE0,
            other => Preprocess::imagenet(other.input_px()),
        }
    }

    /// What a weights file for this kind should be, for error messages.
    fn checkpoint_description(self) -> String {
        match self {
            BackboneKind::Lite0 => "an EfficientNet-Lite0 checkpoint (efficientnet-lite-pytorch \
                                    names, as `weights/` ships)"
                .into(),
            BackboneKind::ResNet50 => "a timm ResNet50 checkpoint".into(),
            BackboneKind::EfficientNetB(n) => format!("a timm efficientnet_b{n} checkpoint"),
        }
    }

    /// An error for B8 and beyond, which do not exist.
    fn check_exists(self) -> crate::Result<()> {
        match self {
            BackboneKind::EfficientNetB(n) if usize::from(n) >= B_VARIANTS.len() => Err(
                Error::Invalid(format!("EfficientNet-B{n} is not supported (B0 … B7 are)")),
            ),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackboneKind {
    type Err = Error;

    fn from_str(name: &str) -> crate::Result<Self> {
        Self::parse(name)
    }
}

/// A network that turns a batch of images into one feature vector per image.
pub trait Backbone: Send + Sync + fmt::Debug {
    /// Which architecture this is.
    fn kind(&self) -> BackboneKind;

    /// The global average of the last convolution map, `N × feature_dim`, for an `N×3×H×W`
    /// `f32` batch prepared by [`BackboneKind::preprocess`]. `train` normalises with batch
    /// statistics (updating the running averages) and applies stochastic depth where the
    /// network has it; the weights' gradients flow when they are variables.
    fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;

    /// Every tensor the network was built from, under its checkpoint name, so a trained
    /// backbone can be saved and loaded again by [`load_backbone`].
    fn named_tensors(&self) -> Vec<(String, Tensor)>;

    /// The width of [`Backbone::pooled_t`].
    fn feature_dim(&self) -> usize {
        self.kind().feature_dim()
    }

    /// Blocks partial fine-tuning can split this backbone at, to run the frozen part once
    /// ([`Backbone::prefix`], cached) and train the rest ([`Backbone::suffix_pooled_t`]);
    /// `None` where the backbone cannot be split (it then trains through `pooled_t`).
    fn split_blocks(&self) -> Option<usize> {
        None
    }

    /// Inference through the stem and the first `end` blocks (see [`Backbone::split_blocks`]).
    fn prefix(&self, _x: &Tensor, _end: usize) -> Result<Tensor> {
        bail!("{} cannot be split for partial fine-tuning", self.kind())
    }

    /// From a [`Backbone::prefix`] output through blocks `start..` and the head: the pooled
    /// features. `train` is a training pass that keeps the batch norms' running statistics
    /// (their scale and shift train); otherwise inference.
    fn suffix_pooled_t(&self, _h: &Tensor, _start: usize, _train: bool) -> Result<Tensor> {
        bail!("{} cannot be split for partial fine-tuning", self.kind())
    }
}

impl Backbone for Lite0 {
    fn kind(&self) -> BackboneKind {
        BackboneKind::Lite0
    }

    fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Lite0::pooled_t(self, x, train)
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        Lite0::named_tensors(self)
    }

    fn split_blocks(&self) -> Option<usize> {
        Some(self.block_count())
    }

    fn prefix(&self, x: &Tensor, end: usize) -> Result<Tensor> {
        Lite0::prefix(self, x, end)
    }

    fn suffix_pooled_t(&self, h: &Tensor, start: usize, train: bool) -> Result<Tensor> {
        Lite0::suffix_pooled_t(self, h, start, train.then_some(BatchNormMode::Frozen))
    }
}

/// Builds a `kind` backbone from `vb`, whose names are the checkpoint's (timm's for ResNet50
/// and B*). Use this with a `VarMap`-backed builder to fine-tune; [`load_backbone`] for a
/// frozen one from a file.
pub fn build_backbone(kind: BackboneKind, vb: VarBuilder) -> Result<Box<dyn Backbone>> {
    Ok(match kind {
        BackboneKind::Lite0 => {
            // Our fused kernels are CPU code; elsewhere Lite0 runs on Candle's own operations.
            let kernels = if vb.device().is_cpu() {
                Kernels::Fused
            } else {
                Kernels::Candle
            };
            Box::new(Lite0::new(vb, &Lite0Config::lite0())?.with_kernels(kernels))
        }
        BackboneKind::ResNet50 => Box::new(ResNet::new(vb, &ResNetConfig::resnet50())?),
        BackboneKind::EfficientNetB(n) => match EfficientNetConfig::b(n) {
            Some(config) => Box::new(EfficientNet::new(vb, &config)?),
            None => bail!("EfficientNet-B{n} is not supported (B0 … B7 are)"),
        },
    })
}

/// Every tensor a `kind` backbone reads, with its shape, in the order it reads them.
pub fn expected_weights(kind: BackboneKind) -> Result<NamedShapes> {
    let recorder = ShapeRecorder::default();
    let vb = VarBuilder::from_backend(Box::new(recorder.clone()), DType::F32, Device::Cpu);
    build_backbone(kind, vb)?;
    Ok(recorder.take())
}

/// Reads a `kind` checkpoint and checks that every tensor the network needs is there with
/// its shape; extra tensors (a classifier, `num_batches_tracked`) are allowed. A missing file
/// names its path; a mismatched one names the tensors and shapes it should have had.
pub fn load_weights(
    kind: BackboneKind,
    path: &Path,
    device: &Device,
) -> crate::Result<HashMap<String, Tensor>> {
    kind.check_exists()?;
    let expected = expected_weights(kind)?;
    let expected: Vec<(&str, &[usize])> = expected
        .iter()
        .map(|(name, shape)| (name.as_str(), shape.as_slice()))
        .collect();
    load_safetensors_checked(path, &expected, device).map_err(|e| match e {
        Error::File { path, reason } => Error::File {
            path,
            reason: format!("{reason} (is this {}?)", kind.checkpoint_description()),
        },
        other => other,
    })
}

/// A frozen `kind` backbone with the weights of the safetensors file `weights`, on `device`.
/// Errors name the file, and for a wrong file the expected tensor and shape.
pub fn load_backbone(
    kind: BackboneKind,
    weights: &Path,
    device: &Device,
) -> crate::Result<Box<dyn Backbone>> {
    let tensors = load_weights(kind, weights, device)?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    build_backbone(kind, vb)
        .map_err(|e| Error::file(weights, format!("cannot build {kind} from it: {e}")))
}

/// A `VarBuilder` backend that hands out zero-cost placeholder tensors and records what was
/// asked for: how [`expected_weights`] learns the names and shapes from the constructors.
#[derive(Clone, Default)]
struct ShapeRecorder(Arc<Mutex<NamedShapes>>);

impl ShapeRecorder {
    fn take(&self) -> NamedShapes {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SimpleBackend for ShapeRecorder {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _init: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name.to_string(), shape.dims().to_vec()));
        // One zero, broadcast: no memory however large the tensor.
        Tensor::zeros((), dtype, device)?.broadcast_as(shape)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _device: &Device) -> Result<Tensor> {
        bail!("{name}: the shape recorder needs to be told the shape")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

/// Batch norm with PyTorch's affine parameters and running averages.
fn bn_config(eps: f64, momentum: f64) -> BatchNormConfig {
    BatchNormConfig {
        eps,
        remove_mean: true,
        affine: true,
        momentum,
    }
}

/// Appends a batch norm's four tensors under `{prefix}.`, as `candle_nn::batch_norm` read them.
fn push_batch_norm(bn: &BatchNorm, prefix: &str, out: &mut Vec<(String, Tensor)>) {
    if let Some((gamma, beta)) = bn.weight_and_bias() {
        out.push((format!("{prefix}.weight"), gamma.clone()));
        out.push((format!("{prefix}.bias"), beta.clone()));
    }
    out.push((format!("{prefix}.running_mean"), bn.running_mean().clone()));
    out.push((format!("{prefix}.running_var"), bn.running_var().clone()));
}

// ---------------------------------------------------------------------------------------------
// ResNet
// ---------------------------------------------------------------------------------------------

/// How many output channels a bottleneck block has per channel of its 3×3 convolution.
const BOTTLENECK_EXPANSION: usize = 4;

/// ResNet's architecture (bottleneck variant: ResNet50 and deeper).
#[derive(Clone, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Bottleneck blocks in each stage (`layer1` … `layer4`).
    pub layers: [usize; 4],
    /// Batch-norm ε (PyTorch's 1e-5).
    pub batch_norm_eps: f64,
    /// Weight of the new batch statistics in the running averages (PyTorch's 0.1).
    pub batch_norm_momentum: f64,
}

impl ResNetConfig {
    /// ResNet50 as timm and torchvision build it (v1.5: the stride on the 3×3 convolution).
    pub fn resnet50() -> Self {
        Self {
            layers: [3, 4, 6, 3],
            batch_norm_eps: 1e-5,
            batch_norm_momentum: 0.1,
        }
    }

    /// The width of the pooled features: `512 · 4`.
    pub fn feature_dim(&self) -> usize {
        512 * BOTTLENECK_EXPANSION
    }
}

/// A bias-free convolution and its batch norm, channels-first.
#[derive(Debug)]
struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    /// `{conv}.weight` (a `kernel × kernel` convolution padded by `kernel / 2`) and `{bn}.*`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        vb: &VarBuilder,
        conv: &str,
        bn: &str,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        cfg: &ResNetConfig,
    ) -> Result<Self> {
        let conv_config = Conv2dConfig {
            padding: kernel / 2,
            stride,
            ..Default::default()
        };
        let conv =
            candle_nn::conv2d_no_bias(in_channels, out_channels, kernel, conv_config, vb.pp(conv))?;
        let bn_config = bn_config(cfg.batch_norm_eps, cfg.batch_norm_momentum);
        let bn = candle_nn::batch_norm(out_channels, bn_config, vb.pp(bn))?;
        Ok(Self { conv, bn })
    }

    fn named_tensors(&self, conv: &str, bn: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("{conv}.weight"), self.conv.weight().clone()));
        push_batch_norm(&self.bn, bn, out);
    }
}

impl ModuleT for ConvBn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.conv.forward(x)?.apply_t(&self.bn, train)
    }
}

/// A bottleneck block: 1×1 reduce, 3×3 (strided), 1×1 expand, plus the shortcut (a strided
/// 1×1 projection, `downsample`, when the shape changes).
#[derive(Debug)]
struct Bottleneck {
    conv1: ConvBn,
    conv2: ConvBn,
    conv3: ConvBn,
    downsample: Option<ConvBn>,
}

impl Bottleneck {
    fn new(
        vb: VarBuilder,
        in_channels: usize,
        width: usize,
        stride: usize,
        cfg: &ResNetConfig,
    ) -> Result<Self> {
        let out_channels = width * BOTTLENECK_EXPANSION;
        let conv1 = ConvBn::new(&vb, "conv1", "bn1", in_channels, width, 1, 1, cfg)?;
        let conv2 = ConvBn::new(&vb, "conv2", "bn2", width, width, 3, stride, cfg)?;
        let conv3 = ConvBn::new(&vb, "conv3", "bn3", width, out_channels, 1, 1, cfg)?;
        let downsample = if stride != 1 || in_channels != out_channels {
            let (conv, bn) = ("downsample.0", "downsample.1");
            let (inp, out) = (in_channels, out_channels);
            Some(ConvBn::new(&vb, conv, bn, inp, out, 1, stride, cfg)?)
        } else {
            None
        };
        Ok(Self {
            conv1,
            conv2,
            conv3,
            downsample,
        })
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (i, conv) in [&self.conv1, &self.conv2, &self.conv3]
            .into_iter()
            .enumerate()
        {
            conv.named_tensors(
                &format!("{prefix}.conv{}", i + 1),
                &format!("{prefix}.bn{}", i + 1),
                out,
            );
        }
        if let Some(downsample) = &self.downsample {
            downsample.named_tensors(
                &format!("{prefix}.downsample.0"),
                &format!("{prefix}.downsample.1"),
                out,
            );
        }
    }
}

impl ModuleT for Bottleneck {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.conv1.forward_t(x, train)?.relu()?;
        let y = self.conv2.forward_t(&y, train)?.relu()?;
        let y = self.conv3.forward_t(&y, train)?;
        let shortcut = match &self.downsample {
            Some(downsample) => downsample.forward_t(x, train)?,
            None => x.clone(),
        };
        (y + shortcut)?.relu()
    }
}

/// ResNet (bottleneck variant) without its classifier, in timm's names: `conv1`, `bn1`,
/// `layer{1-4}.{i}.{conv1-3,bn1-3,downsample.0,downsample.1}`.
#[derive(Debug)]
pub struct ResNet {
    stem: ConvBn,
    /// `(name prefix, block)` in order, e.g. `("layer2.0", …)`.
    blocks: Vec<(String, Bottleneck)>,
    config: ResNetConfig,
}

impl ResNet {
    /// Builds the network from `vb` (timm's names).
    pub fn new(vb: VarBuilder, config: &ResNetConfig) -> Result<Self> {
        let stem = ConvBn::new(&vb, "conv1", "bn1", 3, 64, 7, 2, config)?;
        let mut blocks = Vec::new();
        let mut in_channels = 64;
        for (stage, &count) in config.layers.iter().enumerate() {
            let width = 64 << stage;
            let first_stride = if stage == 0 { 1 } else { 2 };
            for i in 0..count {
                let name = format!("layer{}.{i}", stage + 1);
                let stride = if i == 0 { first_stride } else { 1 };
                let block = Bottleneck::new(vb.pp(&name), in_channels, width, stride, config)?;
                blocks.push((name, block));
                in_channels = width * BOTTLENECK_EXPANSION;
            }
        }
        Ok(Self {
            stem,
            blocks,
            config: config.clone(),
        })
    }

    /// The architecture this network was built with.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// The last convolution map, `N × 2048 × H/32 × W/32`.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (_, channels, _, _) = x.dims4()?;
        if channels != 3 {
            bail!(
                "resnet: expected an N×3×H×W image batch, got {:?}",
                x.dims()
            )
        }
        // Max pooling pads with zeros: exact after the ReLU (every window has a value ≥ 0).
        let mut h = self
            .stem
            .forward_t(x, train)?
            .relu()?
            .pad_with_zeros(2, 1, 1)?
            .pad_with_zeros(3, 1, 1)?
            .max_pool2d_with_stride(3, 2)?;
        for (_, block) in &self.blocks {
            h = block.forward_t(&h, train)?;
        }
        Ok(h)
    }

    /// The global average of [`ResNet::features_t`], `N × 2048`.
    pub fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.features_t(x, train)?.mean((2, 3))
    }
}

impl Backbone for ResNet {
    fn kind(&self) -> BackboneKind {
        BackboneKind::ResNet50
    }

    fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        ResNet::pooled_t(self, x, train)
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.stem.named_tensors("conv1", "bn1", &mut out);
        for (name, block) in &self.blocks {
            block.named_tensors(name, &mut out);
        }
        out
    }

    fn feature_dim(&self) -> usize {
        self.config.feature_dim()
    }
}

// ---------------------------------------------------------------------------------------------
// EfficientNet-B*
// ---------------------------------------------------------------------------------------------

/// Squeeze-excite width, as a fraction of the block's *input* channels.
const SE_RATIO: f64 = 0.25;

/// How EfficientNet's convolutions pad.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPadding {
    /// PyTorch's symmetric `((stride − 1) + (kernel − 1)) / 2` per side: timm's
    /// `efficientnet_b*`.
    Symmetric,
    /// TensorFlow's "SAME", the odd pixel after: timm's `tf_efficientnet_b*` (weights
    /// ported from TensorFlow; same names and shapes).
    TfSame,
}

impl ConvPadding {
    fn for_input(self, height: usize, width: usize, kernel: usize, stride: usize) -> Padding2d {
        match self {
            ConvPadding::Symmetric => {
                let p = ((stride - 1) + (kernel - 1)) / 2;
                Padding2d {
                    top: p,
                    bottom: p,
                    left: p,
                    right: p,
                }
            }
            ConvPadding::TfSame => Padding2d::same(height, width, kernel, stride),
        }
    }
}

/// EfficientNet-B*'s architecture.
#[derive(Clone, Debug, PartialEq)]
pub struct EfficientNetConfig {
    /// Which of B0…B7 this is.
    pub variant: u8,
    /// Block table, width and depth scaling, batch norm, stochastic depth (`drop_connect`)
    /// and input size: the structure Lite0 shares with B*, with `fixed_stem_and_head` off.
    /// Squeeze-excite and swish, which Lite drops, are added by this file.
    pub net: Lite0Config,
    /// How the convolutions pad: which of timm's two families the weights come from.
    pub padding: ConvPadding,
}

impl EfficientNetConfig {
    /// timm's `efficientnet_b{variant}`: symmetric padding, batch-norm ε 1e-5 and momentum
    /// 0.1, stochastic depth 0.2 (timm's usual fine-tuning rate). `None` beyond B7.
    pub fn b(variant: u8) -> Option<Self> {
        let v = B_VARIANTS.get(usize::from(variant))?;
        let net = Lite0Config {
            width_coefficient: v.width,
            depth_coefficient: v.depth,
            fixed_stem_and_head: false,
            batch_norm_eps: 1e-5,
            batch_norm_momentum: 0.1,
            dropout: v.dropout,
            drop_connect: 0.2,
            image_size: v.input_px as usize,
            ..Lite0Config::lite0()
        };
        Some(Self {
            variant,
            net,
            padding: ConvPadding::Symmetric,
        })
    }

    /// timm's `tf_efficientnet_b{variant}` (TensorFlow's weights): "SAME" padding,
    /// batch-norm ε 1e-3 and momentum 0.01. `None` beyond B7.
    pub fn tf_b(variant: u8) -> Option<Self> {
        let mut config = Self::b(variant)?;
        config.net.batch_norm_eps = 1e-3;
        config.net.batch_norm_momentum = 0.01;
        config.padding = ConvPadding::TfSame;
        Some(config)
    }

    /// The width of the pooled features.
    pub fn feature_dim(&self) -> usize {
        self.net.head_out()
    }

    /// Every block with its timm position `(stage, index in stage)`.
    fn blocks(&self) -> Result<Vec<(usize, usize, BlockConfig)>> {
        let net = &self.net;
        let last = net.stages.len().saturating_sub(1);
        let positions: Vec<(usize, usize)> = net
            .stages
            .iter()
            .enumerate()
            .flat_map(|(stage, s)| {
                // As `Lite0Config::blocks` counts them.
                let fixed = net.fixed_stem_and_head && (stage == 0 || stage == last);
                let repeats = if fixed {
                    s.repeats
                } else {
                    (net.depth_coefficient * s.repeats as f64).ceil() as usize
                };
                (0..repeats).map(move |i| (stage, i))
            })
            .collect();
        let blocks = net.blocks();
        if positions.len() != blocks.len() {
            bail!(
                "efficientnet: {} blocks by stage, {} in the block list",
                positions.len(),
                blocks.len()
            )
        }
        Ok(positions
            .into_iter()
            .zip(blocks)
            .map(|((stage, i), block)| (stage, i, block))
            .collect())
    }
}

/// The activation after a batch norm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Identity,
    /// `x · sigmoid(x)` (swish).
    Silu,
}

impl Act {
    fn apply(self, x: Tensor) -> Result<Tensor> {
        match self {
            Act::Identity => Ok(x),
            Act::Silu => x.silu(),
        }
    }
}

/// The stem: a 3×3 stride-2 convolution of the channel-first image, batch norm and swish,
/// giving a channels-last map.
#[derive(Debug)]
struct Stem {
    /// `out × 3 × 3 × 3`.
    weight: Tensor,
    bn: BatchNorm,
    padding: ConvPadding,
}

impl Stem {
    fn new(vb: &VarBuilder, out_channels: usize, cfg: &EfficientNetConfig) -> Result<Self> {
        let weight = vb.pp("conv_stem").get((out_channels, 3, 3, 3), "weight")?;
        let bn_config = bn_config(cfg.net.batch_norm_eps, cfg.net.batch_norm_momentum);
        let bn = candle_nn::batch_norm(out_channels, bn_config, vb.pp("bn1"))?;
        Ok(Self {
            weight,
            bn,
            padding: cfg.padding,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (_, channels, h, w) = x.dims4()?;
        if channels != 3 {
            bail!(
                "efficientnet: expected an N×3×H×W image batch, got {:?}",
                x.dims()
            )
        }
        let p = self.padding.for_input(h, w, 3, 2);
        let y = x
            .pad_with_zeros(2, p.top, p.bottom)?
            .pad_with_zeros(3, p.left, p.right)?
            .conv2d(&self.weight, 0, 2, 1, 1)?
            .apply_t(&self.bn, train)?
            .silu()?;
        y.permute((0, 2, 3, 1))?.contiguous()
    }
}

/// A 1×1 convolution (a matrix product on channels-last rows), batch norm and activation.
#[derive(Debug)]
struct PointwiseBn {
    /// `out × in × 1 × 1`, as stored.
    weight: Tensor,
    bn: BatchNorm,
    act: Act,
}

impl PointwiseBn {
    fn new(
        vb: &VarBuilder,
        conv: &str,
        bn: &str,
        in_channels: usize,
        out_channels: usize,
        act: Act,
        cfg: &EfficientNetConfig,
    ) -> Result<Self> {
        let weight = vb
            .pp(conv)
            .get((out_channels, in_channels, 1, 1), "weight")?;
        let bn_config = bn_config(cfg.net.batch_norm_eps, cfg.net.batch_norm_momentum);
        let bn = candle_nn::batch_norm(out_channels, bn_config, vb.pp(bn))?;
        Ok(Self { weight, bn, act })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (n, h, w, c) = x.dims4()?;
        let out = self.weight.dim(0)?;
        let matrix = self.weight.reshape((out, c))?;
        let rows = x.reshape((n * h * w, c))?.matmul(&matrix.t()?)?;
        let rows = rows.apply_t(&self.bn, train)?;
        self.act.apply(rows)?.reshape((n, h, w, out))
    }

    fn named_tensors(&self, conv: &str, bn: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("{conv}.weight"), self.weight.clone()));
        push_batch_norm(&self.bn, bn, out);
    }
}

/// A depthwise k×k convolution on channels-last maps, batch norm and swish.
#[derive(Debug)]
struct DepthwiseBn {
    /// `C × 1 × k × k`, as stored.
    weight: Tensor,
    bn: BatchNorm,
    kernel: usize,
    stride: usize,
    padding: ConvPadding,
}

impl DepthwiseBn {
    fn new(
        vb: &VarBuilder,
        bn: &str,
        block: &BlockConfig,
        cfg: &EfficientNetConfig,
    ) -> Result<Self> {
        let channels = block.expanded_channels();
        let weight = vb
            .pp("conv_dw")
            .get((channels, 1, block.kernel, block.kernel), "weight")?;
        let bn_config = bn_config(cfg.net.batch_norm_eps, cfg.net.batch_norm_momentum);
        let bn = candle_nn::batch_norm(channels, bn_config, vb.pp(bn))?;
        Ok(Self {
            weight,
            bn,
            kernel: block.kernel,
            stride: block.stride,
            padding: cfg.padding,
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (_, h, w, c) = x.dims4()?;
        let p = self.padding.for_input(h, w, self.kernel, self.stride);
        let y = if x.device().is_cpu() && x.dtype() == DType::F32 {
            let op = DepthwiseConv2d {
                stride: self.stride,
                padding: p,
                activation: Activation::Identity,
            };
            let zero_bias = Tensor::zeros(c, x.dtype(), x.device())?;
            op.forward(x, &weight_to_hwc(&self.weight)?, &zero_bias)?
        } else {
            x.permute((0, 3, 1, 2))?
                .pad_with_zeros(2, p.top, p.bottom)?
                .pad_with_zeros(3, p.left, p.right)?
                .conv2d(&self.weight, 0, self.stride, 1, c)?
                .permute((0, 2, 3, 1))?
        };
        bn_channels_last(&self.bn, &y, train)?.silu()
    }
}

/// Squeeze-excite: channel weights from the globally pooled map through a bottleneck
/// (`conv_reduce`, swish, `conv_expand`, sigmoid).
#[derive(Debug)]
struct SqueezeExcite {
    /// `reduced × channels × 1 × 1` and `reduced`.
    reduce: (Tensor, Tensor),
    /// `channels × reduced × 1 × 1` and `channels`.
    expand: (Tensor, Tensor),
}

impl SqueezeExcite {
    fn new(vb: VarBuilder, channels: usize, reduced: usize) -> Result<Self> {
        let conv = |name: &str, out: usize, inp: usize| -> Result<(Tensor, Tensor)> {
            let vb = vb.pp(name);
            Ok((vb.get((out, inp, 1, 1), "weight")?, vb.get(out, "bias")?))
        };
        Ok(Self {
            reduce: conv("conv_reduce", reduced, channels)?,
            expand: conv("conv_expand", channels, reduced)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, _, _, c) = x.dims4()?;
        let linear = |(weight, bias): &(Tensor, Tensor)| -> Result<Linear> {
            let out = weight.dim(0)?;
            let inp = weight.dim(1)?;
            Ok(Linear::new(weight.reshape((out, inp))?, Some(bias.clone())))
        };
        let s = x.mean((1, 2))?;
        let s = linear(&self.reduce)?.forward(&s)?.silu()?;
        let gate = candle_nn::ops::sigmoid(&linear(&self.expand)?.forward(&s)?)?;
        x.broadcast_mul(&gate.reshape((n, 1, 1, c))?)
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        for (name, (weight, bias)) in [("conv_reduce", &self.reduce), ("conv_expand", &self.expand)]
        {
            out.push((format!("{prefix}.{name}.weight"), weight.clone()));
            out.push((format!("{prefix}.{name}.bias"), bias.clone()));
        }
    }
}

/// An MBConv block with squeeze-excite, in timm's two forms: a *depthwise-separable* block
/// where there is no expansion (`conv_dw`/`bn1`, `se`, `conv_pw`/`bn2`) and an *inverted
/// residual* otherwise (`conv_pw`/`bn1`, `conv_dw`/`bn2`, `se`, `conv_pwl`/`bn3`).
#[derive(Debug)]
struct MbConv {
    expand: Option<PointwiseBn>,
    depthwise: DepthwiseBn,
    se: SqueezeExcite,
    project: PointwiseBn,
    config: BlockConfig,
}

impl MbConv {
    fn new(vb: VarBuilder, block: &BlockConfig, cfg: &EfficientNetConfig) -> Result<Self> {
        let mid = block.expanded_channels();
        let reduced = ((block.in_channels as f64 * SE_RATIO).round() as usize).max(1);
        let separable = block.expand_ratio == 1;
        let expand = if separable {
            None
        } else {
            let (inp, act) = (block.in_channels, Act::Silu);
            Some(PointwiseBn::new(&vb, "conv_pw", "bn1", inp, mid, act, cfg)?)
        };
        let depthwise = DepthwiseBn::new(&vb, if separable { "bn1" } else { "bn2" }, block, cfg)?;
        let se = SqueezeExcite::new(vb.pp("se"), mid, reduced)?;
        let (conv, bn) = if separable {
            ("conv_pw", "bn2")
        } else {
            ("conv_pwl", "bn3")
        };
        let out = block.out_channels;
        let project = PointwiseBn::new(&vb, conv, bn, mid, out, Act::Identity, cfg)?;
        Ok(Self {
            expand,
            depthwise,
            se,
            project,
            config: block.clone(),
        })
    }

    /// `x` and the result are channels-last.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let h = match &self.expand {
            Some(expand) => expand.forward_t(x, train)?,
            None => x.clone(),
        };
        let h = self.depthwise.forward_t(&h, train)?;
        let h = self.se.forward(&h)?;
        let h = self.project.forward_t(&h, train)?;
        if !self.config.has_skip() {
            return Ok(h);
        }
        let h = if train && self.config.drop_connect > 0.0 {
            drop_path(&h, self.config.drop_connect)?
        } else {
            h
        };
        h + x
    }

    fn named_tensors(&self, prefix: &str, out: &mut Vec<(String, Tensor)>) {
        let (dw_bn, project_conv, project_bn) = match &self.expand {
            None => ("bn1", "conv_pw", "bn2"),
            Some(expand) => {
                let (conv, bn) = (format!("{prefix}.conv_pw"), format!("{prefix}.bn1"));
                expand.named_tensors(&conv, &bn, out);
                ("bn2", "conv_pwl", "bn3")
            }
        };
        out.push((
            format!("{prefix}.conv_dw.weight"),
            self.depthwise.weight.clone(),
        ));
        push_batch_norm(&self.depthwise.bn, &format!("{prefix}.{dw_bn}"), out);
        self.se.named_tensors(&format!("{prefix}.se"), out);
        self.project.named_tensors(
            &format!("{prefix}.{project_conv}"),
            &format!("{prefix}.{project_bn}"),
            out,
        );
    }
}

/// EfficientNet-B* without its classifier, in timm's names: `conv_stem`, `bn1`,
/// `blocks.{stage}.{i}.*`, `conv_head`, `bn2`. Blocks without expansion (stage 0) hold
/// `conv_dw`, `bn1`, `se.conv_{reduce,expand}`, `conv_pw`, `bn2`; the others `conv_pw`,
/// `bn1`, `conv_dw`, `bn2`, `se.*`, `conv_pwl`, `bn3`.
#[derive(Debug)]
pub struct EfficientNet {
    stem: Stem,
    /// `(name prefix, block)` in order, e.g. `("blocks.1.0", …)`.
    blocks: Vec<(String, MbConv)>,
    head: PointwiseBn,
    config: EfficientNetConfig,
}

impl EfficientNet {
    /// Builds the network from `vb` (timm's names).
    pub fn new(vb: VarBuilder, config: &EfficientNetConfig) -> Result<Self> {
        let stem = Stem::new(&vb, config.net.stem_out(), config)?;
        let blocks = config
            .blocks()?
            .into_iter()
            .map(|(stage, i, block)| {
                let name = format!("blocks.{stage}.{i}");
                let block = MbConv::new(vb.pp(&name), &block, config)?;
                Ok((name, block))
            })
            .collect::<Result<Vec<_>>>()?;
        let last = blocks
            .last()
            .map_or(config.net.stem_out(), |(_, b)| b.config.out_channels);
        let head_out = config.feature_dim();
        let head = PointwiseBn::new(&vb, "conv_head", "bn2", last, head_out, Act::Silu, config)?;
        Ok(Self {
            stem,
            blocks,
            head,
            config: config.clone(),
        })
    }

    /// The architecture this network was built with.
    pub fn config(&self) -> &EfficientNetConfig {
        &self.config
    }

    /// The last convolution map (after `conv_head`, `bn2` and swish), channels-last.
    fn trunk(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut h = self.stem.forward_t(x, train)?;
        for (_, block) in &self.blocks {
            h = block.forward_t(&h, train)?;
        }
        self.head.forward_t(&h, train)
    }

    /// The last convolution map, `N × feature_dim × H/32 × W/32`.
    pub fn features_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.trunk(x, train)?.permute((0, 3, 1, 2))?.contiguous()
    }

    /// The global average of the last convolution map, `N × feature_dim`.
    pub fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.trunk(x, train)?.mean((1, 2))
    }
}

impl Backbone for EfficientNet {
    fn kind(&self) -> BackboneKind {
        BackboneKind::EfficientNetB(self.config.variant)
    }

    fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        EfficientNet::pooled_t(self, x, train)
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        out.push(("conv_stem.weight".into(), self.stem.weight.clone()));
        push_batch_norm(&self.stem.bn, "bn1", &mut out);
        for (name, block) in &self.blocks {
            block.named_tensors(name, &mut out);
        }
        self.head.named_tensors("conv_head", "bn2", &mut out);
        out
    }

    fn feature_dim(&self) -> usize {
        self.config.feature_dim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::IndexOp;

    type Shapes = NamedShapes;

    /// A batch norm as timm saves it (with its integer `num_batches_tracked` counter).
    fn push_bn(shapes: &mut Shapes, prefix: &str, channels: usize) {
        for leaf in ["weight", "bias", "running_mean", "running_var"] {
            shapes.push((format!("{prefix}.{leaf}"), vec![channels]));
        }
        shapes.push((format!("{prefix}.num_batches_tracked"), vec![]));
    }

    fn push(shapes: &mut Shapes, name: String, shape: &[usize]) {
        shapes.push((name, shape.to_vec()));
    }

    /// timm `resnet50`'s whole state dict, written out from timm's module structure.
    fn timm_resnet50() -> Shapes {
        let mut s = Shapes::new();
        push(&mut s, "conv1.weight".into(), &[64, 3, 7, 7]);
        push_bn(&mut s, "bn1", 64);
        let mut c_in = 64;
        for (stage, (blocks, width)) in [(3, 64), (4, 128), (6, 256), (3, 512)]
            .into_iter()
            .enumerate()
        {
            let out = 4 * width;
            for b in 0..blocks {
                let p = format!("layer{}.{b}", stage + 1);
                push(&mut s, format!("{p}.conv1.weight"), &[width, c_in, 1, 1]);
                push_bn(&mut s, &format!("{p}.bn1"), width);
                push(&mut s, format!("{p}.conv2.weight"), &[width, width, 3, 3]);
                push_bn(&mut s, &format!("{p}.bn2"), width);
                push(&mut s, format!("{p}.conv3.weight"), &[out, width, 1, 1]);
                push_bn(&mut s, &format!("{p}.bn3"), out);
                if b == 0 {
                    push(
                        &mut s,
                        format!("{p}.downsample.0.weight"),
                        &[out, c_in, 1, 1],
                    );
                    push_bn(&mut s, &format!("{p}.downsample.1"), out);
                }
                c_in = out;
            }
        }
        push(&mut s, "fc.weight".into(), &[1000, 2048]);
        push(&mut s, "fc.bias".into(), &[1000]);
        s
    }

    /// timm `efficientnet_b*`'s whole state dict for a width and depth multiplier, written
    /// out from timm's `arch_def` and block classes.
    fn timm_efficientnet(width: f64, depth: f64) -> Shapes {
        // timm's round_channels: a multiple of 8, never more than 10 % below.
        let round = |c: usize| {
            let exact = c as f64 * width;
            let v = ((exact + 4.0) as usize / 8 * 8).max(8);
            if (v as f64) < 0.9 * exact { v + 8 } else { v }
        };
        let mut s = Shapes::new();
        let stem = round(32);
        push(&mut s, "conv_stem.weight".into(), &[stem, 3, 3, 3]);
        push_bn(&mut s, "bn1", stem);
        // ds_r1_k3_s1_e1_c16, ir_r2_k3_s2_e6_c24, ir_r2_k5_s2_e6_c40, ir_r3_k3_s2_e6_c80,
        // ir_r3_k5_s1_e6_c112, ir_r4_k5_s2_e6_c192, ir_r1_k3_s1_e6_c320; all se0.25.
        let arch = [
            (1, 3, 1, 16),
            (2, 3, 6, 24),
            (2, 5, 6, 40),
            (3, 3, 6, 80),
            (3, 5, 6, 112),
            (4, 5, 6, 192),
            (1, 3, 6, 320),
        ];
        let mut c_in = stem;
        for (stage, (repeats, k, e, out)) in arch.into_iter().enumerate() {
            let out = round(out);
            for b in 0..(repeats as f64 * depth).ceil() as usize {
                let p = format!("blocks.{stage}.{b}");
                let (mid, rd) = (c_in * e, c_in / 4);
                let se = |s: &mut Shapes| {
                    push(s, format!("{p}.se.conv_reduce.weight"), &[rd, mid, 1, 1]);
                    push(s, format!("{p}.se.conv_reduce.bias"), &[rd]);
                    push(s, format!("{p}.se.conv_expand.weight"), &[mid, rd, 1, 1]);
                    push(s, format!("{p}.se.conv_expand.bias"), &[mid]);
                };
                if e == 1 {
                    push(&mut s, format!("{p}.conv_dw.weight"), &[mid, 1, k, k]);
                    push_bn(&mut s, &format!("{p}.bn1"), mid);
                    se(&mut s);
                    push(&mut s, format!("{p}.conv_pw.weight"), &[out, mid, 1, 1]);
                    push_bn(&mut s, &format!("{p}.bn2"), out);
                } else {
                    push(&mut s, format!("{p}.conv_pw.weight"), &[mid, c_in, 1, 1]);
                    push_bn(&mut s, &format!("{p}.bn1"), mid);
                    push(&mut s, format!("{p}.conv_dw.weight"), &[mid, 1, k, k]);
                    push_bn(&mut s, &format!("{p}.bn2"), mid);
                    se(&mut s);
                    push(&mut s, format!("{p}.conv_pwl.weight"), &[out, mid, 1, 1]);
                    push_bn(&mut s, &format!("{p}.bn3"), out);
                }
                c_in = out;
            }
        }
        let head = round(1280);
        push(&mut s, "conv_head.weight".into(), &[head, c_in, 1, 1]);
        push_bn(&mut s, "bn2", head);
        push(&mut s, "classifier.weight".into(), &[1000, head]);
        push(&mut s, "classifier.bias".into(), &[1000]);
        s
    }

    /// Whether a timm tensor is a learned parameter (not a running statistic or counter).
    fn is_parameter(name: &str) -> bool {
        !(name.ends_with("running_mean")
            || name.ends_with("running_var")
            || name.ends_with("num_batches_tracked"))
    }

    /// The number of learned parameters, as `sum(p.numel() for p in model.parameters())`.
    fn parameter_count(shapes: &Shapes) -> usize {
        shapes
            .iter()
            .filter(|(name, _)| is_parameter(name))
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }

    /// The timm names and shapes a backbone reads: all but the classifier and counters.
    fn read_by_backbone(timm: &Shapes, classifier: &str) -> Shapes {
        let mut shapes: Shapes = timm
            .iter()
            .filter(|(name, _)| {
                !name.starts_with(classifier) && !name.ends_with("num_batches_tracked")
            })
            .cloned()
            .collect();
        shapes.sort();
        shapes
    }

    fn sorted(mut shapes: Shapes) -> Shapes {
        shapes.sort();
        shapes
    }

    /// Random weights of a sensible scale for `shapes` (activations stay around 1).
    fn random_weights(shapes: &Shapes, dev: &Device) -> HashMap<String, Tensor> {
        shapes
            .iter()
            .map(|(name, shape)| {
                let t = if name.ends_with("num_batches_tracked") {
                    Tensor::new(7i64, dev)
                } else if name.ends_with("running_var") || name.ends_with("bn1.weight") {
                    Tensor::rand(0.5f32, 1.5, shape.as_slice(), dev)
                } else if shape.len() > 1 {
                    let fan_in: usize = shape[1..].iter().product();
                    Tensor::randn(0f32, (1.0 / fan_in as f32).sqrt(), shape.as_slice(), dev)
                } else if name.contains(".bn") && name.ends_with(".weight") {
                    Tensor::rand(0.5f32, 1.5, shape.as_slice(), dev)
                } else {
                    Tensor::randn(0f32, 0.1, shape.as_slice(), dev)
                };
                (name.clone(), t.unwrap())
            })
            .collect()
    }

    fn save(weights: &HashMap<String, Tensor>, path: &Path) {
        candle_core::safetensors::save(weights, path).unwrap();
    }

    fn max_abs(t: &Tensor) -> f32 {
        t.abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// The largest difference between `a` and `b`, relative to the largest value of `b`.
    fn relative_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        max_abs(&(a - b).unwrap()) / max_abs(b).max(1e-12)
    }

    /// Three different images; batches `[a, b]` and `[a, c]` share their first image.
    fn two_batches_sharing_an_image(side: usize, dev: &Device) -> (Tensor, Tensor) {
        let images = Tensor::randn(0f32, 1.0, (3, 3, side, side), dev).unwrap();
        let ab = images.narrow(0, 0, 2).unwrap();
        let ac = Tensor::cat(&[images.i(0..1).unwrap(), images.i(2..3).unwrap()], 0).unwrap();
        (ab, ac)
    }

    /// Eval mode treats every image alone; train mode normalises with the batch's statistics,
    /// so the same image pools differently beside a different neighbour.
    fn assert_train_mode_uses_batch_statistics(backbone: &dyn Backbone, side: usize) {
        let dev = Device::Cpu;
        let dim = backbone.feature_dim();
        let (ab, ac) = two_batches_sharing_an_image(side, &dev);
        let eval_ab = backbone.pooled_t(&ab, false).unwrap();
        let eval_ac = backbone.pooled_t(&ac, false).unwrap();
        assert_eq!(eval_ab.dims(), &[2, dim]);
        let first = |t: &Tensor| t.i(0).unwrap();
        assert!(relative_diff(&first(&eval_ab), &first(&eval_ac)) < 1e-5);

        let train_ab = backbone.pooled_t(&ab, true).unwrap();
        let train_ac = backbone.pooled_t(&ac, true).unwrap();
        assert_eq!(train_ab.dims(), &[2, dim]);
        assert!(relative_diff(&first(&train_ab), &first(&train_ac)) > 1e-2);
        assert!(relative_diff(&first(&train_ab), &first(&eval_ab)) > 1e-2);
        for t in [&eval_ab, &train_ab, &train_ac] {
            assert!(max_abs(t).is_finite());
        }
    }

    /// Every name and value [`Backbone::named_tensors`] gives is one it was loaded from.
    fn assert_named_tensors_round_trip(backbone: &dyn Backbone, weights: &HashMap<String, Tensor>) {
        let named = backbone.named_tensors();
        let expected = expected_weights(backbone.kind()).unwrap();
        assert_eq!(named.len(), expected.len());
        for (name, tensor) in &named {
            let loaded = &weights[name];
            assert_eq!(tensor.dims(), loaded.dims(), "{name}");
            assert_eq!(max_abs(&(tensor - loaded).unwrap()), 0.0, "{name}");
        }
    }

    #[test]
    fn kinds_parse_and_describe_themselves() {
        for kind in BackboneKind::ALL {
            assert_eq!(BackboneKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(kind.to_string().parse::<BackboneKind>().unwrap(), kind);
        }
        assert_eq!(BackboneKind::parse("lite0").unwrap(), BackboneKind::Lite0);
        assert_eq!(
            BackboneKind::parse("efficientnet-b3").unwrap(),
            BackboneKind::EfficientNetB(3)
        );
        assert_eq!(
            BackboneKind::parse(" EfficientNet_B7 ").unwrap(),
            BackboneKind::EfficientNetB(7)
        );
        assert_eq!(
            BackboneKind::parse("resnet50").unwrap(),
            BackboneKind::ResNet50
        );
        for bad in ["resnet18", "efficientnet-b8", "", "efficientnet"] {
            let message = BackboneKind::parse(bad).unwrap_err().to_string();
            assert!(message.contains("resnet50"), "{message}");
        }

        let dims: Vec<usize> = (0..8)
            .map(|n| BackboneKind::EfficientNetB(n).feature_dim())
            .collect();
        assert_eq!(dims, [1280, 1280, 1408, 1536, 1792, 2048, 2304, 2560]);
        let sides: Vec<u32> = (0..8)
            .map(|n| BackboneKind::EfficientNetB(n).input_px())
            .collect();
        assert_eq!(sides, [224, 240, 260, 300, 380, 456, 528, 600]);
        assert_eq!(BackboneKind::ResNet50.feature_dim(), 2048);
        assert_eq!(BackboneKind::Lite0.feature_dim(), 1280);
        assert_eq!(BackboneKind::Lite0.preprocess(), Preprocess::LITE0);
        assert_eq!(
            BackboneKind::ResNet50.preprocess(),
            Preprocess::imagenet(224)
        );
        assert_eq!(
            BackboneKind::EfficientNetB(5).preprocess(),
            Preprocess::imagenet(456)
        );
    }

    #[test]
    fn configs_agree_with_the_kind_table() {
        for n in 0..8u8 {
            let kind = BackboneKind::EfficientNetB(n);
            for config in [EfficientNetConfig::b(n), EfficientNetConfig::tf_b(n)] {
                let config = config.unwrap();
                assert_eq!(config.feature_dim(), kind.feature_dim(), "B{n}");
                assert_eq!(config.net.image_size, kind.input_px() as usize, "B{n}");
            }
        }
        assert!(EfficientNetConfig::b(8).is_none());
        // timm's get_padding: ((stride − 1) + (kernel − 1)) / 2 per side.
        for (kernel, stride, pad) in [(3, 1, 1), (3, 2, 1), (5, 1, 2), (5, 2, 2)] {
            let p = ConvPadding::Symmetric.for_input(64, 64, kernel, stride);
            assert_eq!((p.top, p.bottom, p.left, p.right), (pad, pad, pad, pad));
        }
        assert_eq!(
            ResNetConfig::resnet50().feature_dim(),
            BackboneKind::ResNet50.feature_dim()
        );
        assert_eq!(
            expected_weights(BackboneKind::Lite0)
                .unwrap()
                .last()
                .unwrap(),
            &("_fc.bias".to_string(), vec![1000])
        );
    }

    #[test]
    fn weights_read_are_timm_state_dicts() {
        // Parameter counts as torchvision documents them (same architectures as timm's).
        let resnet = timm_resnet50();
        assert_eq!(parameter_count(&resnet), 25_557_032);
        assert_eq!(
            sorted(expected_weights(BackboneKind::ResNet50).unwrap()),
            read_by_backbone(&resnet, "fc.")
        );
        for (n, count) in [(0u8, 5_288_548), (3, 12_233_232), (7, 66_347_960)] {
            let v = BVariant::get(n);
            let timm = timm_efficientnet(v.width, v.depth);
            assert_eq!(parameter_count(&timm), count, "B{n}");
            let ours = expected_weights(BackboneKind::EfficientNetB(n)).unwrap();
            assert_eq!(sorted(ours), read_by_backbone(&timm, "classifier."), "B{n}");
        }
    }

    #[test]
    fn resnet50_from_timm_weights_pools_2048_features() {
        let dev = Device::Cpu;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resnet50.safetensors");
        let weights = random_weights(&timm_resnet50(), &dev);
        save(&weights, &path);

        let backbone = load_backbone(BackboneKind::ResNet50, &path, &dev).unwrap();
        assert_eq!(backbone.kind(), BackboneKind::ResNet50);
        assert_eq!(backbone.feature_dim(), 2048);
        assert_named_tensors_round_trip(backbone.as_ref(), &weights);

        // The same network as candle-transformers' (torchvision's names are timm's).
        let x = Tensor::randn(0f32, 1.0, (1, 3, 64, 64), &dev).unwrap();
        let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
        let reference = candle_transformers::models::resnet::resnet50_no_final_layer(vb).unwrap();
        let ours = backbone.pooled_t(&x, false).unwrap();
        assert_eq!(ours.dims(), &[1, 2048]);
        assert!(relative_diff(&ours, &x.apply(&reference).unwrap()) < 1e-4);

        assert_train_mode_uses_batch_statistics(backbone.as_ref(), 64);
    }

    #[test]
    fn efficientnet_b0_from_timm_weights_pools_1280_features() {
        let dev = Device::Cpu;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("efficientnet_b0.safetensors");
        let weights = random_weights(&timm_efficientnet(1.0, 1.0), &dev);
        save(&weights, &path);

        let kind = BackboneKind::EfficientNetB(0);
        let backbone = load_backbone(kind, &path, &dev).unwrap();
        assert_eq!(backbone.kind(), kind);
        assert_named_tensors_round_trip(backbone.as_ref(), &weights);
        let x = Tensor::randn(0f32, 1.0, (1, 3, 64, 64), &dev).unwrap();
        assert_eq!(backbone.pooled_t(&x, false).unwrap().dims(), &[1, 1280]);
        assert_eq!(backbone.pooled_t(&x, true).unwrap().dims(), &[1, 1280]);

        // Without stochastic depth, so that only batch norm makes train mode differ.
        let mut config = EfficientNetConfig::b(0).unwrap();
        config.net.drop_connect = 0.0;
        let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
        let deterministic = EfficientNet::new(vb, &config).unwrap();
        assert_train_mode_uses_batch_statistics(&deterministic, 64);
    }

    /// candle-transformers' EfficientNet is torchvision-named with TF padding and ε: it must
    /// match ours with [`ConvPadding::TfSame`] on the same (renamed) timm weights.
    #[test]
    fn tf_efficientnet_matches_candle_transformers() {
        use candle_transformers::models::efficientnet as reference;

        /// torchvision's names (what candle-transformers asks for) → timm's.
        fn timm_name(name: &str) -> String {
            let parts: Vec<&str> = name.split('.').collect();
            match parts.as_slice() {
                ["features", "0", "0", leaf] => format!("conv_stem.{leaf}"),
                ["features", "0", "1", leaf] => format!("bn1.{leaf}"),
                ["features", "8", "0", leaf] => format!("conv_head.{leaf}"),
                ["features", "8", "1", leaf] => format!("bn2.{leaf}"),
                ["classifier", "1", leaf] => format!("classifier.{leaf}"),
                ["features", stage, block, "block", layer, rest @ ..] => {
                    let stage: usize = stage.parse().unwrap();
                    let layers: &[(&str, &str)] = if stage == 1 {
                        &[("conv_dw", "bn1"), ("se", "se"), ("conv_pw", "bn2")]
                    } else {
                        &[
                            ("conv_pw", "bn1"),
                            ("conv_dw", "bn2"),
                            ("se", "se"),
                            ("conv_pwl", "bn3"),
                        ]
                    };
                    let (conv, bn) = layers[layer.parse::<usize>().unwrap()];
                    let tail = match rest {
                        ["0", leaf] => format!("{conv}.{leaf}"),
                        ["1", leaf] => format!("{bn}.{leaf}"),
                        ["fc1", leaf] => format!("se.conv_reduce.{leaf}"),
                        ["fc2", leaf] => format!("se.conv_expand.{leaf}"),
                        _ => panic!("unexpected name {name}"),
                    };
                    format!("blocks.{}.{block}.{tail}", stage - 1)
                }
                _ => panic!("unexpected name {name}"),
            }
        }

        let dev = Device::Cpu;
        let weights = random_weights(&timm_efficientnet(1.0, 1.0), &dev);
        let vb = VarBuilder::from_tensors(weights.clone(), DType::F32, &dev);
        let ours = EfficientNet::new(vb.clone(), &EfficientNetConfig::tf_b(0).unwrap()).unwrap();
        let theirs = reference::EfficientNet::new(
            vb.rename_f(timm_name),
            reference::MBConvConfig::b0(),
            1000,
        )
        .unwrap();

        let x = Tensor::randn(0f32, 1.0, (1, 3, 64, 64), &dev).unwrap();
        let classifier = Linear::new(
            weights["classifier.weight"].clone(),
            Some(weights["classifier.bias"].clone()),
        );
        let logits = classifier
            .forward(&ours.pooled_t(&x, false).unwrap())
            .unwrap();
        assert!(relative_diff(&logits, &theirs.forward(&x).unwrap()) < 1e-4);
    }

    #[test]
    fn batch_norm_in_train_mode_uses_the_batch_statistics() {
        let dev = Device::Cpu;
        // A 1×1 identity convolution on 2 channels; running statistics far from the batch's.
        let weights = HashMap::from([
            (
                "c.weight".to_string(),
                Tensor::eye(2, DType::F32, &dev)
                    .unwrap()
                    .reshape((2, 2, 1, 1))
                    .unwrap(),
            ),
            (
                "n.weight".into(),
                Tensor::ones(2, DType::F32, &dev).unwrap(),
            ),
            ("n.bias".into(), Tensor::zeros(2, DType::F32, &dev).unwrap()),
            (
                "n.running_mean".into(),
                Tensor::full(5f32, 2, &dev).unwrap(),
            ),
            ("n.running_var".into(), Tensor::full(4f32, 2, &dev).unwrap()),
        ]);
        let vb = VarBuilder::from_tensors(weights, DType::F32, &dev);
        let layer = ConvBn::new(&vb, "c", "n", 2, 2, 1, 1, &ResNetConfig::resnet50()).unwrap();
        let x = (Tensor::randn(0f32, 3.0, (4, 2, 8, 8), &dev).unwrap() + 1.0).unwrap();
        let channel_stats = |y: &Tensor| {
            let rows = y.transpose(0, 1).unwrap().flatten_from(1).unwrap();
            let mean = rows.mean(1).unwrap();
            let var = rows
                .broadcast_sub(&mean.unsqueeze(1).unwrap())
                .unwrap()
                .sqr()
                .unwrap();
            (
                mean.to_vec1::<f32>().unwrap(),
                var.mean(1).unwrap().to_vec1::<f32>().unwrap(),
            )
        };
        let (mean, var) = channel_stats(&layer.forward_t(&x, true).unwrap());
        for c in 0..2 {
            assert!(mean[c].abs() < 1e-4, "{mean:?}");
            assert!((var[c] - 1.0).abs() < 1e-3, "{var:?}");
        }
        // Eval mode uses the running statistics: (x − 5) / 2, so a mean of about −2.
        let (mean, _) = channel_stats(&layer.forward_t(&x, false).unwrap());
        assert!(mean.iter().all(|m| (m + 2.0).abs() < 0.5), "{mean:?}");
    }

    #[test]
    fn a_wrong_file_names_the_tensor_and_the_shape_expected() {
        let dev = Device::Cpu;
        let dir = tempfile::tempdir().unwrap();
        let zeros = |shapes: &Shapes, skip: &str, reshape: Option<(&str, &[usize])>| {
            shapes
                .iter()
                .filter(|(name, _)| name != skip)
                .map(|(name, shape)| {
                    let shape = match reshape {
                        Some((target, new_shape)) if target == name => new_shape,
                        _ => shape.as_slice(),
                    };
                    let t = Tensor::zeros(shape, DType::F16, &dev).unwrap();
                    (name.clone(), t)
                })
                .collect::<HashMap<_, _>>()
        };

        // A missing tensor.
        let path = dir.path().join("resnet50.safetensors");
        save(
            &zeros(&timm_resnet50(), "layer4.2.conv3.weight", None),
            &path,
        );
        let message = load_backbone(BackboneKind::ResNet50, &path, &dev)
            .unwrap_err()
            .to_string();
        assert!(message.contains("resnet50.safetensors"), "{message}");
        assert!(
            message.contains("layer4.2.conv3.weight [2048, 512, 1, 1] is missing"),
            "{message}"
        );
        assert!(
            message.contains("(is this a timm ResNet50 checkpoint?)"),
            "{message}"
        );

        // A tensor of the wrong shape.
        let path = dir.path().join("b0.safetensors");
        let wrong = Some(("conv_head.weight", &[1280, 321, 1, 1][..]));
        save(&zeros(&timm_efficientnet(1.0, 1.0), "", wrong), &path);
        let kind = BackboneKind::EfficientNetB(0);
        let message = load_backbone(kind, &path, &dev).unwrap_err().to_string();
        assert!(
            message.contains("conv_head.weight is [1280, 321, 1, 1], expected [1280, 320, 1, 1]"),
            "{message}"
        );
        assert!(message.contains("timm efficientnet_b0"), "{message}");

        // Another network's file: the first few tensors are named, the rest counted.
        let path = dir.path().join("other.safetensors");
        let other = HashMap::from([("x".to_string(), Tensor::zeros(1, DType::F32, &dev).unwrap())]);
        save(&other, &path);
        let message = load_backbone(BackboneKind::EfficientNetB(3), &path, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("conv_stem.weight [40, 3, 3, 3] is missing"),
            "{message}"
        );
        assert!(message.contains("more"), "{message}");

        // No file at all; not a safetensors file.
        let missing = dir.path().join("nowhere.safetensors");
        let message = load_backbone(BackboneKind::ResNet50, &missing, &dev)
            .unwrap_err()
            .to_string();
        assert!(message.contains("nowhere.safetensors"), "{message}");
        let junk = dir.path().join("junk.safetensors");
        std::fs::write(&junk, b"not a tensor file").unwrap();
        let message = load_backbone(BackboneKind::ResNet50, &junk, &dev)
            .unwrap_err()
            .to_string();
        assert!(message.contains("junk.safetensors"), "{message}");

        // A B variant that does not exist.
        let error = load_backbone(BackboneKind::EfficientNetB(9), &path, &dev).unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error}");
    }

    #[test]
    fn lite0_is_a_backbone() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0.safetensors");
        if !path.exists() {
            eprintln!("skipped: {} is not there", path.display());
            return;
        }
        let dev = Device::Cpu;
        let backbone = load_backbone(BackboneKind::Lite0, &path, &dev).unwrap();
        assert_eq!(backbone.kind(), BackboneKind::Lite0);
        let x = Tensor::zeros((1, 3, 64, 64), DType::F32, &dev).unwrap();
        assert_eq!(backbone.pooled_t(&x, false).unwrap().dims(), &[1, 1280]);
        // Lite0 weights are not a ResNet.
        let message = load_backbone(BackboneKind::ResNet50, &path, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("conv1.weight [64, 3, 7, 7] is missing"),
            "{message}"
        );
    }
}
