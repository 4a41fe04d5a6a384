//! The shallow branch of the parallel network (ARCHITECTURE.md §4; paper §III and Fig. 2, after
//! VisNet and its ResNet101 + shallow-net successor, the paper's reference [5]).
//!
//! A deep backbone pools away most of what makes two garments look alike to a shopper:
//! exact colour, print and fabric texture. The paper (§IV.D, Table I) finds that a shallow
//! branch beside the backbone "helps recover the color", raising the colour and variety
//! scores. So this branch stays shallow on purpose: the same normalised image the backbone
//! sees, **average-pooled 4× first** (colour survives averaging; a 56×56 input costs a
//! sixteenth of a 224×224 one), two 3×3 convolutions with an average pool between them, then
//! a global average and a global maximum, which keep "how much of this colour/texture" and
//! "is it anywhere at all".
//!
//! ```text
//! N×3×224×224 ─ avg-pool 4 ─ conv 3×3 (16) ─ ReLU ─ avg-pool 2 ─ conv 3×3 (32) ─ ReLU ─┬─ global mean ─┐
//!                  56×56          56×56                28×28          28×28           └─ global max ──┴─ N×64
//! ```
//! The early pool is what lets the branch **train in every mode**: its input
//! ([`ShallowBranch::input`], 3×56×56) is small enough to cache beside the backbone's features,
//! so head-mode training updates the branch without decoding a single image. (Systems saved
//! before the pool existed have `input_pool = 1`, a stride-2 first convolution and a pool of 4;
//! they load and run as they were trained.)
//!
//! On the CPU the branch runs channels-last on the training kernels of [`super::conv`]; on
//! other devices on Candle's convolutions. Parameter names: `conv1.{weight,bias}`,
//! `conv2.{weight,bias}` under the caller's prefix, in PyTorch's layout.

use candle_core::{D, DType, Module, Result, Tensor, bail};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};
use serde::{Deserialize, Serialize};

use super::conv::ConvAct;
use super::depthwise::{Activation, Padding2d};
use super::pool::{AvgPool, GlobalMeanMax};

/// The shallow branch's sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShallowConfig {
    /// Side of the average pool applied to the image before the first convolution (also its
    /// stride); 1 (no pool) in systems saved before it existed.
    #[serde(default = "no_pool", skip_serializing_if = "is_one")]
    pub input_pool: usize,
    /// Channels of the first convolution (3×3, stride [`ShallowConfig::conv1_stride`]).
    pub conv1_channels: usize,
    /// Stride of the first convolution.
    pub conv1_stride: usize,
    /// Side of the average pool after the first convolution (also its stride).
    pub pool: usize,
    /// Channels of the second convolution (3×3, stride 1); the output is twice this.
    pub conv2_channels: usize,
}

fn no_pool() -> usize {
    1
}

/// Configs saved before the input pool existed serialise as they did (their systems'
/// fingerprints stay the same).
fn is_one(v: &usize) -> bool {
    *v == 1
}

impl ShallowConfig {
    /// The default branch: pool 4 → 16 → pool 2 → 32 channels, a 64-d output.
    pub fn small() -> Self {
        Self {
            input_pool: 4,
            conv1_channels: 16,
            conv1_stride: 1,
            pool: 2,
            conv2_channels: 32,
        }
    }

    /// The width of the branch's output: global mean and global max of each channel.
    pub fn output_dim(&self) -> usize {
        2 * self.conv2_channels
    }

    /// The side of [`ShallowBranch::input`] for an image of `side` pixels.
    pub fn input_side(&self, side: usize) -> usize {
        side / self.input_pool.max(1)
    }
}

impl Default for ShallowConfig {
    fn default() -> Self {
        Self::small()
    }
}

/// The shallow branch: `N×3×H×W` normalised images to `N × output_dim` colour/texture
/// features.
#[derive(Debug, Clone)]
pub struct ShallowBranch {
    conv1: Conv2d,
    conv2: Conv2d,
    config: ShallowConfig,
}

/// Padding 1 on every side: a 3×3 convolution that keeps the size (at stride 1).
const PAD1: Padding2d = Padding2d {
    top: 1,
    bottom: 1,
    left: 1,
    right: 1,
};

impl ShallowBranch {
    /// Builds the branch from `vb` (`conv1.*`, `conv2.*`; Kaiming-initialised when new).
    pub fn new(vb: VarBuilder, config: &ShallowConfig) -> Result<Self> {
        if config.conv1_channels == 0
            || config.conv2_channels == 0
            || config.pool == 0
            || config.conv1_stride == 0
            || config.input_pool == 0
        {
            bail!("shallow branch: every size must be at least 1, got {config:?}")
        }
        let conv1 = candle_nn::conv2d(
            3,
            config.conv1_channels,
            3,
            Conv2dConfig {
                padding: 1,
                stride: config.conv1_stride,
                ..Default::default()
            },
            vb.pp("conv1"),
        )?;
        let conv2 = candle_nn::conv2d(
            config.conv1_channels,
            config.conv2_channels,
            3,
            Conv2dConfig {
                padding: 1,
                ..Default::default()
            },
            vb.pp("conv2"),
        )?;
        Ok(Self {
            conv1,
            conv2,
            config: config.clone(),
        })
    }

    /// The sizes this branch was built with.
    pub fn config(&self) -> &ShallowConfig {
        &self.config
    }

    /// The width of [`ShallowBranch::forward`]'s output.
    pub fn output_dim(&self) -> usize {
        self.config.output_dim()
    }

    /// The branch's tensors, named `{prefix}conv1.weight` and so on.
    pub fn named_tensors(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (name, conv) in [("conv1", &self.conv1), ("conv2", &self.conv2)] {
            out.push((format!("{prefix}{name}.weight"), conv.weight().clone()));
            if let Some(bias) = conv.bias() {
                out.push((format!("{prefix}{name}.bias"), bias.clone()));
            }
        }
        out
    }

    /// What the branch reads of an `N×3×H×W` normalised batch: the image average-pooled by
    /// `input_pool`, channels-last, `N×(H/p)×(W/p)×3` (what training caches).
    pub fn input(&self, x: &Tensor) -> Result<Tensor> {
        let (_, channels, _, _) = x.dims4()?;
        if channels != 3 {
            bail!(
                "shallow branch: expected an N×3×H×W batch, got {:?}",
                x.dims()
            )
        }
        let small = match self.config.input_pool {
            1 => x.clone(),
            p => x.avg_pool2d(p)?,
        };
        small.permute((0, 2, 3, 1))?.contiguous()
    }

    /// The branch on its [`ShallowBranch::input`]: `N × output_dim`.
    pub fn forward_input(&self, small: &Tensor) -> Result<Tensor> {
        let (_, _, _, channels) = small.dims4()?;
        if channels != 3 {
            bail!(
                "shallow branch: expected an N×H×W×3 input, got {:?}",
                small.dims()
            )
        }
        let ours = small.device().is_cpu() && small.dtype() == DType::F32;
        if ours {
            return GlobalMeanMax.forward(&self.map_channels_last(small)?);
        }
        let map = self
            .conv2
            .forward(
                &self
                    .conv1
                    .forward(&small.permute((0, 3, 1, 2))?)?
                    .relu()?
                    .avg_pool2d(self.config.pool)?,
            )?
            .relu()?;
        let (n, c, h, w) = map.dims4()?;
        let pixels = map.reshape((n, c, h * w))?;
        Tensor::cat(
            &[&pixels.mean(D::Minus1)?, &pixels.max(D::Minus1)?],
            D::Minus1,
        )
    }

    /// The two convolutions on the CPU kernels, channels-last: `N × h × w × conv2_channels`.
    fn map_channels_last(&self, small: &Tensor) -> Result<Tensor> {
        let h = small;
        let conv1 = ConvAct::square(3, self.config.conv1_stride, PAD1, Activation::Relu);
        let h = conv1.forward(h, &im2col_weight(&self.conv1)?, &bias(&self.conv1)?)?;
        let h = AvgPool {
            side: self.config.pool,
        }
        .forward(&h)?;
        let conv2 = ConvAct::square(3, 1, PAD1, Activation::Relu);
        conv2.forward(&h, &im2col_weight(&self.conv2)?, &bias(&self.conv2)?)
    }
}

/// A convolution's `O×C×KH×KW` weight as the `(KH·KW·C) × O` matrix of [`ConvAct`].
fn im2col_weight(conv: &Conv2d) -> Result<Tensor> {
    let w = conv.weight();
    let out = w.dim(0)?;
    w.permute((2, 3, 1, 0))?.reshape(((), out))
}

/// A convolution's bias (zeros when it has none).
fn bias(conv: &Conv2d) -> Result<Tensor> {
    match conv.bias() {
        Some(b) => Ok(b.clone()),
        None => {
            let w = conv.weight();
            Tensor::zeros(w.dim(0)?, w.dtype(), w.device())
        }
    }
}

impl Module for ShallowBranch {
    /// `N×3×H×W` → `N × output_dim`: `[mean ‖ max]` over the last map's pixels. The same in
    /// training and inference (no dropout or batch norm here).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_input(&self.input(x)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn the_branch_gives_mean_and_max_per_channel() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let branch = ShallowBranch::new(vb, &ShallowConfig::small()).unwrap();
        assert_eq!(branch.output_dim(), 64);
        let x = Tensor::randn(0f32, 1.0, (3, 3, 64, 48), &dev).unwrap();
        let y = branch.forward(&x).unwrap();
        assert_eq!(y.dims(), [3, 64]);
        let v = y.to_vec2::<f32>().unwrap();
        for row in &v {
            // After ReLU every value is ≥ 0, and each channel's max is at least its mean.
            assert!(row.iter().all(|&a| a >= 0.0 && a.is_finite()));
            for c in 0..32 {
                assert!(row[32 + c] >= row[c] - 1e-6, "channel {c}");
            }
        }
        let names: Vec<String> = branch
            .named_tensors("shallow.")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "shallow.conv1.weight",
                "shallow.conv1.bias",
                "shallow.conv2.weight",
                "shallow.conv2.bias"
            ]
        );
        assert_eq!(varmap.all_vars().len(), 4);
    }

    #[test]
    fn colour_reaches_the_output() {
        // Two flat images that differ only in hue must give different features.
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let branch = ShallowBranch::new(vb, &ShallowConfig::small()).unwrap();
        let red = Tensor::cat(
            &[
                Tensor::full(0.9f32, (1, 1, 32, 32), &dev).unwrap(),
                Tensor::full(-0.9f32, (1, 2, 32, 32), &dev).unwrap(),
            ],
            1,
        )
        .unwrap();
        let blue = red.flip(&[1]).unwrap();
        let a = branch.forward(&red).unwrap();
        let b = branch.forward(&blue).unwrap();
        let diff = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff > 1e-3, "{diff}");
    }

    /// The CPU kernels against Candle's NCHW convolutions, values and gradients, for the
    /// default branch and the one saved before the input pool existed.
    #[test]
    fn cpu_kernels_match_candle_convolutions() {
        let dev = Device::Cpu;
        let before_pool = ShallowConfig {
            input_pool: 1,
            conv1_stride: 2,
            pool: 4,
            ..ShallowConfig::small()
        };
        for config in [ShallowConfig::small(), before_pool] {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
            let branch = ShallowBranch::new(vb, &config).unwrap();
            // Sides that every pool divides: Candle's average-pool gradient (upsampling) is
            // only right then, while ours drops the leftover rows as the forward pass does.
            let x = Tensor::randn(0f32, 1.0, (2, 3, 64, 48), &dev).unwrap();
            let small = branch.input(&x).unwrap();
            let got = branch.forward_input(&small).unwrap();
            let small = small.permute((0, 3, 1, 2)).unwrap();
            let reference = branch
                .conv2
                .forward(
                    &branch
                        .conv1
                        .forward(&small)
                        .unwrap()
                        .relu()
                        .unwrap()
                        .avg_pool2d(config.pool)
                        .unwrap(),
                )
                .unwrap()
                .relu()
                .unwrap()
                .flatten_from(2)
                .unwrap();
            let want = Tensor::cat(
                &[
                    reference.mean(D::Minus1).unwrap(),
                    reference.max(D::Minus1).unwrap(),
                ],
                1,
            )
            .unwrap();
            let err = crate::model::test_util::max_abs_diff(&got, &want);
            assert!(err < 1e-4, "{config:?}: {err}");
            let grads_got = got.sum_all().unwrap().backward().unwrap();
            let grads_want = want.sum_all().unwrap().backward().unwrap();
            for var in varmap.all_vars() {
                let a = grads_got.get(&var).unwrap();
                let b = grads_want.get(&var).unwrap();
                let scale = b
                    .abs()
                    .unwrap()
                    .max_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                let err = crate::model::test_util::max_abs_diff(a, b);
                assert!(
                    err <= 1e-4 * scale.max(1e-3),
                    "{config:?}: gradient off by {err}"
                );
            }
        }
    }

    #[test]
    fn old_configs_load_without_the_input_pool() {
        let json = r#"{"conv1_channels":16,"conv1_stride":2,"pool":4,"conv2_channels":32}"#;
        let config: ShallowConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.input_pool, 1);
        assert_eq!(config.input_side(224), 224);
        assert_eq!(ShallowConfig::small().input_side(224), 56);
    }

    #[test]
    fn bad_inputs_and_sizes_are_refused() {
        let dev = Device::Cpu;
        let vb = VarBuilder::zeros(DType::F32, &dev);
        let zero = ShallowConfig {
            pool: 0,
            ..ShallowConfig::small()
        };
        assert!(ShallowBranch::new(vb.clone(), &zero).is_err());
        let branch = ShallowBranch::new(vb, &ShallowConfig::small()).unwrap();
        let grey = Tensor::zeros((1, 1, 32, 32), DType::F32, &dev).unwrap();
        assert!(branch.forward(&grey).is_err());
    }
}
