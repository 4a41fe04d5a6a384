//! Lite0's one kind of layer, [`ConvBn`]: a bias-free convolution (the stem, a 1×1 or a
//! depthwise one) with its batch norm and activation, run one of three ways as the pass's
//! [`Run`] says: with the batch norm folded into the weights of the fused inference kernels
//! (cached between passes), on Vitrine's differentiable training kernels, or on Candle's own
//! operations.

use std::sync::{Mutex, PoisonError};

use candle_core::{Result, Tensor, Var, bail};
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder};

use super::{BatchNormMode, Lite0Config, Run, bn_channels_last, drop_path, fused, pointwise};
use crate::model::batch_norm::{BatchNormAct, BatchStats};
use crate::model::conv::ConvAct;
use crate::model::depthwise::{Activation, DepthwiseConv2d, Padding2d, weight_to_hwc};

/// What kind of convolution a [`ConvBn`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ConvKind {
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
    /// A 1×1 convolution's (or the stem's patch) `(K + 1) × N` matrix, the bias as the last
    /// row, packed into panels of 16 output channels
    /// ([`pointwise::pack_panels`](super::pointwise::pack_panels)).
    Panels { panels: Tensor, out_channels: usize },
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
pub(super) struct ConvBn {
    /// PyTorch layout, `out × in × KH × KW` (`in` = 1 for depthwise).
    weight: Tensor,
    bn: BatchNorm,
    kind: ConvKind,
    activation: Activation,
    /// Weight of a batch's statistics in the running averages (training with batch statistics).
    momentum: f64,
    folded: FoldCache,
}

/// What one of Lite0's convolutions is, for [`ConvBn::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ConvSpec {
    /// Channels in (a depthwise convolution's weight has one per output channel).
    pub in_channels: usize,
    /// Channels out, and of the batch norm after the convolution.
    pub out_channels: usize,
    /// Stem, 1×1 or depthwise, with the kernel and stride.
    pub kind: ConvKind,
    /// The activation after the batch norm.
    pub activation: Activation,
}

impl ConvBn {
    /// Loads `{conv}.weight` and `{bn}.{weight,bias,running_mean,running_var}`.
    pub(super) fn new(
        vb: &VarBuilder,
        conv: &str,
        bn: &str,
        spec: ConvSpec,
        cfg: &Lite0Config,
    ) -> Result<Self> {
        let ConvSpec {
            in_channels,
            out_channels,
            kind,
            activation,
        } = spec;
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
    pub(super) fn forward(
        &self,
        x: &Tensor,
        run: Run,
        residual: Option<(&Tensor, f32)>,
    ) -> Result<Tensor> {
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
            (
                ConvKind::Stem { kernel, stride },
                Folded::Panels {
                    panels,
                    out_channels,
                },
            ) => {
                let (n, _, h, w) = x.dims4()?;
                let op = self.stem_conv((kernel, stride), x, out_channels)?;
                let y = x.contiguous()?.apply_op2_no_bwd(&panels, &op)?;
                y.reshape((n, h.div_ceil(stride), w.div_ceil(stride), ()))
            }
            (
                ConvKind::Pointwise,
                Folded::Panels {
                    panels,
                    out_channels,
                },
            ) => {
                let (n, h, w, c) = x.dims4()?;
                let rows = x.reshape((n * h * w, c))?;
                let residual = match residual {
                    Some(r) => Some(r.reshape((n * h * w, ()))?),
                    None => None,
                };
                let y = fused::pointwise(
                    &rows,
                    &panels,
                    out_channels,
                    self.activation,
                    residual.as_ref(),
                )?;
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

    /// The stem's fused convolution of the channel-first image batch `x`: "SAME" padding for
    /// its size, this convolution's activation.
    fn stem_conv(
        &self,
        (kernel, stride): (usize, usize),
        x: &Tensor,
        out_channels: usize,
    ) -> Result<fused::DenseConv> {
        let (_, _, h, w) = x.dims4()?;
        Ok(fused::DenseConv {
            kernel,
            stride,
            padding: Padding2d::same(h, w, kernel, stride),
            activation: self.activation,
            out_channels,
        })
    }

    /// A whole MBConv block in fused inference, a band of rows at a time
    /// ([`fused::block`]): `project(depthwise(self(x))) [+ residual]`, where `self` is the
    /// block's expansion, or the stem (then `x` is the channel-first image and the block has
    /// no expansion of its own).
    pub(super) fn block_fused(
        &self,
        depthwise: &ConvBn,
        project: &ConvBn,
        x: &Tensor,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        let first = self.folded.get_or_fold(|| self.fold())?;
        let dw = depthwise.folded.get_or_fold(|| depthwise.fold())?;
        let last = project.folded.get_or_fold(|| project.fold())?;
        let (
            Folded::Panels {
                panels,
                out_channels: expanded,
            },
            ConvKind::Depthwise { kernel, stride },
            Folded::Depthwise { weight, bias },
            ConvKind::Pointwise,
            Folded::Panels {
                panels: project_panels,
                out_channels,
            },
        ) = (first, depthwise.kind, dw, project.kind, last)
        else {
            bail!(
                "lite0: cannot fuse {:?}, {:?} and {:?} convolutions into a block",
                self.kind,
                depthwise.kind,
                project.kind
            )
        };
        let stem;
        let expansion = match self.kind {
            ConvKind::Pointwise => fused::Expansion::Pointwise {
                panels: &panels,
                activation: self.activation,
            },
            ConvKind::Stem { kernel, stride } => {
                stem = self.stem_conv((kernel, stride), x, expanded)?;
                fused::Expansion::Stem {
                    conv: &stem,
                    panels: &panels,
                }
            }
            ConvKind::Depthwise { .. } => bail!("lite0: a block cannot expand depthwise"),
        };
        let weights = fused::Block {
            expansion,
            expanded,
            dw_weight: &weight,
            dw_bias: &bias,
            dw_activation: depthwise.activation,
            kernel,
            stride,
            project: &project_panels,
            out_channels,
            project_activation: project.activation,
        };
        fused::block(x, &weights, residual)
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
                // out × in × KH × KW → (in · KH · KW) × out, rows in the stem's patch order
                // (in, ky, kx): each of a window's rows is then a run of an image row.
                let matrix = scaled.permute((1, 2, 3, 0))?.reshape(((), out))?;
                let packed = Tensor::cat(&[&matrix, &shift.reshape((1, out))?], 0)?;
                let k = packed.dim(0)? - 1;
                let values = packed.flatten_all()?.to_vec1::<f32>()?;
                let panels = pointwise::pack_panels(&values, k, out);
                let shape = (pointwise::panel_count(out), k + 1, pointwise::PANEL);
                Ok(Folded::Panels {
                    panels: Tensor::from_vec(panels, shape, packed.device())?,
                    out_channels: out,
                })
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
    pub(super) fn named_tensors(&self, conv: &str, bn: &str, out: &mut Vec<(String, Tensor)>) {
        out.push((format!("{conv}.weight"), self.weight.clone()));
        if let Some((gamma, beta)) = self.bn.weight_and_bias() {
            out.push((format!("{bn}.weight"), gamma.clone()));
            out.push((format!("{bn}.bias"), beta.clone()));
        }
        out.push((format!("{bn}.running_mean"), self.bn.running_mean().clone()));
        out.push((format!("{bn}.running_var"), self.bn.running_var().clone()));
    }
}
