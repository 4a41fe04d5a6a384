//! ResNet50 (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) as a
//! [`Backbone`]: timm's bottleneck network (torchvision's too, same names) without its
//! classifier, written in candle's struct style so that its batch norms train, unlike
//! candle-transformers' (see [`super::backbone`]). Channels-first, on Candle's own
//! convolutions.

use candle_core::{Module, ModuleT, Result, Tensor, bail};
use candle_nn::{BatchNorm, Conv2d, Conv2dConfig, VarBuilder};

use super::backbone::{Backbone, BackboneKind, bn_config, push_batch_norm};

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

/// The shape of one of ResNet's convolutions: a square kernel, padded by `kernel / 2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ConvShape {
    /// Channels in.
    pub in_channels: usize,
    /// Channels out (and of the batch norm after it).
    pub out_channels: usize,
    /// The side of the kernel.
    pub kernel: usize,
    /// The stride, the same both ways.
    pub stride: usize,
}

/// A bias-free convolution and its batch norm, channels-first.
#[derive(Debug)]
struct ConvBn {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBn {
    /// `{conv}.weight` (a `kernel × kernel` convolution padded by `kernel / 2`) and `{bn}.*`.
    fn new(
        vb: &VarBuilder,
        conv: &str,
        bn: &str,
        shape: ConvShape,
        cfg: &ResNetConfig,
    ) -> Result<Self> {
        let ConvShape {
            in_channels,
            out_channels,
            kernel,
            stride,
        } = shape;
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
        let reduce = ConvShape {
            in_channels,
            out_channels: width,
            kernel: 1,
            stride: 1,
        };
        let spatial = ConvShape {
            in_channels: width,
            out_channels: width,
            kernel: 3,
            stride,
        };
        let expand = ConvShape {
            in_channels: width,
            out_channels,
            kernel: 1,
            stride: 1,
        };
        let conv1 = ConvBn::new(&vb, "conv1", "bn1", reduce, cfg)?;
        let conv2 = ConvBn::new(&vb, "conv2", "bn2", spatial, cfg)?;
        let conv3 = ConvBn::new(&vb, "conv3", "bn3", expand, cfg)?;
        let downsample = if stride != 1 || in_channels != out_channels {
            let (conv, bn) = ("downsample.0", "downsample.1");
            let projection = ConvShape {
                in_channels,
                out_channels,
                kernel: 1,
                stride,
            };
            Some(ConvBn::new(&vb, conv, bn, projection, cfg)?)
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
        let stem_shape = ConvShape {
            in_channels: 3,
            out_channels: 64,
            kernel: 7,
            stride: 2,
        };
        let stem = ConvBn::new(&vb, "conv1", "bn1", stem_shape, config)?;
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

    fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let map = self.features_t(x, false)?;
        let pooled = map.mean((2, 3))?;
        Ok((map, pooled))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::backbone::load_backbone;
    use crate::model::backbone::test_util::*;
    use candle_core::{DType, Device};
    use std::collections::HashMap;

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
        let shape = ConvShape {
            in_channels: 2,
            out_channels: 2,
            kernel: 1,
            stride: 1,
        };
        let layer = ConvBn::new(&vb, "c", "n", shape, &ResNetConfig::resnet50()).unwrap();
        // Fixed values (no random input: the test must not pass or fail by chance), spread
        // evenly with a mean of about 1 and a standard deviation of about 3.
        let values: Vec<f32> = (0..512u32)
            .map(|i| 1.0 + 3.0 * 3f32.sqrt() * (((i * 37) % 256) as f32 / 127.5 - 1.0))
            .collect();
        let x = Tensor::from_vec(values, (4, 2, 8, 8), &dev).unwrap();
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
}
