//! EfficientNet-B0…B7 (Tan & Le, ICML 2019) as a [`Backbone`], in timm's names: the
//! compound scaling of the eight variants, the padding of timm's two weight families, and
//! the MBConv block with squeeze-excite and swish. The block table and its scaling are
//! Lite0's ([`Lite0Config`]). The network runs channels-last, with 1×1 convolutions as
//! matrix products and, on the CPU, the direct depthwise kernel of [`super::depthwise`].

use candle_core::{DType, Module, Result, Tensor, bail};
use candle_nn::{BatchNorm, Linear, VarBuilder};

use super::backbone::{Backbone, BackboneKind, bn_config, push_batch_norm};
use super::depthwise::{Activation, DepthwiseConv2d, Padding2d, weight_to_hwc};
use super::lite0::{BlockConfig, Lite0Config, bn_channels_last, drop_path};

/// One of EfficientNet-B0…B7: the compound scaling of the paper's Table 1 / §3.3.
pub(super) struct BVariant {
    pub(super) name: &'static str,
    /// Channel multiplier (width).
    pub(super) width: f64,
    /// Block-count multiplier (depth).
    pub(super) depth: f64,
    pub(super) input_px: u32,
    /// Classifier dropout in training (not used by the backbone; kept for the config).
    dropout: f32,
    /// `round_filters(1280 · width)`: the pooled feature size.
    pub(super) feature_dim: usize,
}

pub(super) const B_VARIANTS: [BVariant; 8] = [
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
    pub(super) fn get(n: u8) -> &'static BVariant {
        &B_VARIANTS[usize::from(n).min(B_VARIANTS.len() - 1)]
    }
}

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
    pub(super) fn for_input(
        self,
        height: usize,
        width: usize,
        kernel: usize,
        stride: usize,
    ) -> Padding2d {
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

    fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let map = self.trunk(x, false)?;
        let pooled = map.mean((1, 2))?;
        Ok((map.permute((0, 3, 1, 2))?.contiguous()?, pooled))
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
    use crate::model::backbone::load_backbone;
    use crate::model::backbone::test_util::*;
    use candle_core::Device;

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
}
