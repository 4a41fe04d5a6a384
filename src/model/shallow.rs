//! The shallow branch of the parallel network (DESIGN §4; paper §III and Fig. 2, after
//! VisNet and its ResNet101 + shallow-net successor, the paper's reference [5]).
//!
//! A deep backbone pools away most of what makes two garments look alike to a shopper:
//! exact colour, print and fabric texture. The paper (§IV.D, Table I) finds that a shallow
//! branch beside the backbone "helps recover the color", raising the colour and variety
//! scores. So this branch stays shallow on purpose: two 3×3 convolutions with an early
//! average pool on the same normalised image the backbone sees, then a global average and a
//! global maximum, which keep "how much of this colour/texture" and "is it anywhere at all".
//!
//! ```text
//! N×3×224×224 ─ conv 3×3 s2 (16) ─ ReLU ─ avg-pool 4 ─ conv 3×3 (32) ─ ReLU ─┬─ global mean ─┐
//!                   112×112                28×28           28×28          └─ global max ──┴─ N×64
//! ```
//! Parameter names: `conv1.{weight,bias}`, `conv2.{weight,bias}` under the caller's prefix.

use candle_core::{D, Module, Result, Tensor, bail};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder};
use serde::{Deserialize, Serialize};

/// The shallow branch's sizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShallowConfig {
    /// Channels of the first convolution (3×3, stride [`ShallowConfig::conv1_stride`]).
    pub conv1_channels: usize,
    /// Stride of the first convolution.
    pub conv1_stride: usize,
    /// Side of the average pool after the first convolution (also its stride).
    pub pool: usize,
    /// Channels of the second convolution (3×3, stride 1); the output is twice this.
    pub conv2_channels: usize,
}

impl ShallowConfig {
    /// The default branch: 16 → pool 4 → 32 channels, a 64-d output.
    pub fn small() -> Self {
        Self {
            conv1_channels: 16,
            conv1_stride: 2,
            pool: 4,
            conv2_channels: 32,
        }
    }

    /// The width of the branch's output: global mean and global max of each channel.
    pub fn output_dim(&self) -> usize {
        2 * self.conv2_channels
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

impl ShallowBranch {
    /// Builds the branch from `vb` (`conv1.*`, `conv2.*`; Kaiming-initialised when new).
    pub fn new(vb: VarBuilder, config: &ShallowConfig) -> Result<Self> {
        if config.conv1_channels == 0
            || config.conv2_channels == 0
            || config.pool == 0
            || config.conv1_stride == 0
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
}

impl Module for ShallowBranch {
    /// `N×3×H×W` → `N × output_dim`: `[mean ‖ max]` over the last map's pixels. The same in
    /// training and inference (no dropout or batch norm here).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, channels, _, _) = x.dims4()?;
        if channels != 3 {
            bail!(
                "shallow branch: expected an N×3×H×W batch, got {:?}",
                x.dims()
            )
        }
        let h = self.conv1.forward(x)?.relu()?;
        let h = h.avg_pool2d(self.config.pool)?;
        let h = self.conv2.forward(&h)?.relu()?;
        let h = h.flatten_from(2)?;
        let mean = h.mean(D::Minus1)?;
        let max = h.max(D::Minus1)?;
        Tensor::cat(&[&mean, &max], 1)
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
