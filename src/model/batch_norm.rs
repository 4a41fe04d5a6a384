//! Batch normalisation with batch statistics and a fused activation, as a differentiable
//! Candle custom op on channels-last rows: the training kernel of full fine-tuning, where
//! every batch norm normalises with the statistics of its batch and updates its running
//! averages (partial fine-tuning keeps the running statistics and folds them into the
//! convolution instead; see `lite0`).
//!
//! Candle's `BatchNorm::forward_train` is a dozen generic ops (transpose, mean, subtract,
//! square, mean, divide, multiply, add), each allocating and each with its own backward pass.
//! Here the forward is two passes over the input (the statistics, then
//! `y = act(γ·(u − μ)/σ + β)`) and the backward two more, reading the activation's derivative
//! off the output, so only the input `u` and the output `y` are kept:
//!
//! ```text
//! û = (u − μ)/σ,  dz = dy · act'(y),  dβ = Σ dz,  dγ = Σ dz·û,
//! du = γ/σ · (dz − dβ/M − û · dγ/M)        (M rows; σ² the biased batch variance)
//! ```
//!
//! The loops are in [`super::elementwise`]. The batch mean and (unbiased) variance the
//! forward pass measured are kept in the op's [`BatchStats`] slot, for the caller to fold
//! into the running averages.

use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu_data::{f32_slice, with_cpu_f32};
use super::depthwise::Activation;
use super::elementwise::{
    BnChannels, BnGrad, BnRows, bn_backward, bn_backward_sums, bn_forward, bn_moments, finish,
    slots, uninit,
};

/// What one forward pass measured, per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    /// The unbiased variance (`Σ(u − μ)² / (M − 1)`), as running averages keep it.
    pub unbiased_var: Vec<f32>,
}

/// Batch norm with batch statistics and an activation; see the module docs.
#[derive(Clone, Debug)]
pub struct BatchNormAct {
    pub eps: f64,
    pub activation: Activation,
    /// Filled by the forward pass.
    measured: Arc<Mutex<Option<Measured>>>,
}

#[derive(Clone, Debug)]
struct Measured {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    unbiased_var: Vec<f32>,
}

impl BatchNormAct {
    pub fn new(eps: f64, activation: Activation) -> Self {
        Self {
            eps,
            activation,
            measured: Arc::default(),
        }
    }

    /// `act(γ·(u − μ)/σ + β)` over the last dimension of `u` (channels-last), differentiable
    /// in `u`, `gamma` and `beta`.
    pub fn forward(&self, u: &Tensor, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
        u.contiguous()?
            .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, self.clone())
    }

    /// The statistics of the last forward pass (`None` before it ran).
    pub fn batch_stats(&self) -> Option<BatchStats> {
        let measured = self.measured.lock().unwrap_or_else(PoisonError::into_inner);
        measured.as_ref().map(|m| BatchStats {
            mean: m.mean.clone(),
            unbiased_var: m.unbiased_var.clone(),
        })
    }

    fn measured(&self) -> Result<Measured> {
        let measured = self.measured.lock().unwrap_or_else(PoisonError::into_inner);
        match measured.as_ref() {
            Some(m) => Ok(m.clone()),
            None => bail!("batch norm: backward pass before a forward pass"),
        }
    }
}

/// Rows per parallel task: enough tasks for every thread, each a few thousand values.
fn rows_per_task(m: usize, c: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    m.div_ceil(threads * 4).max((4096 / c.max(1)).max(1))
}

/// Per-channel mean and biased variance over rows of `c` values, in one pass: sums of
/// `u − K` and `(u − K)²` with `K` the first row (a shift near the mean, so that the variance
/// does not come from subtracting two nearly equal numbers), in f32 over runs of 64 rows and
/// f64 across them.
fn mean_and_variance(u: &[f32], c: usize) -> (Vec<f64>, Vec<f64>) {
    let m = u.len() / c;
    let shift = &u[..c];
    let rows = rows_per_task(m, c);
    let (s, q) = u
        .par_chunks(rows * c)
        .map(|chunk| {
            let (mut s, mut q) = (vec![0f32; c], vec![0f32; c]);
            let (mut s64, mut q64) = (vec![0f64; c], vec![0f64; c]);
            for block in chunk.chunks(64 * c) {
                bn_moments(block, shift, &mut s, &mut q);
                flush(&mut s, &mut s64);
                flush(&mut q, &mut q64);
            }
            (s64, q64)
        })
        .reduce(|| (vec![0f64; c], vec![0f64; c]), add_pairs);
    let m = m as f64;
    let mean = (0..c).map(|i| f64::from(shift[i]) + s[i] / m).collect();
    let var = (0..c)
        .map(|i| (q[i] / m - (s[i] / m) * (s[i] / m)).max(0.0))
        .collect();
    (mean, var)
}

/// Adds the f32 partial sums into the f64 totals and clears them.
fn flush(partial: &mut [f32], total: &mut [f64]) {
    for (p, t) in partial.iter_mut().zip(total.iter_mut()) {
        *t += f64::from(*p);
        *p = 0.0;
    }
}

/// Sums two pairs of per-channel totals.
fn add_pairs(
    (mut a, mut b): (Vec<f64>, Vec<f64>),
    (x, y): (Vec<f64>, Vec<f64>),
) -> (Vec<f64>, Vec<f64>) {
    for (a, x) in a.iter_mut().zip(&x) {
        *a += x;
    }
    for (b, y) in b.iter_mut().zip(&y) {
        *b += y;
    }
    (a, b)
}

impl CustomOp3 for BatchNormAct {
    fn name(&self) -> &'static str {
        "batch-norm-act-nhwc"
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
        let u = f32_slice(s1, l1, "convolution", Some("input"))?;
        let gamma = f32_slice(s2, l2, "convolution", Some("scale"))?;
        let beta = f32_slice(s3, l3, "convolution", Some("shift"))?;
        let c = *l1.dims().last().unwrap_or(&0);
        if c == 0 || gamma.len() != c || beta.len() != c {
            bail!(
                "batch norm: input {:?}, scale {:?}, shift {:?}",
                l1.dims(),
                l2.dims(),
                l3.dims()
            )
        }
        let m = u.len() / c;
        if m < 2 {
            bail!("batch norm with batch statistics needs at least 2 values per channel")
        }
        let (mu, var) = mean_and_variance(u, c);
        let mean: Vec<f32> = mu.iter().map(|&v| v as f32).collect();
        let inv_std: Vec<f32> = var
            .iter()
            .map(|&v| (1.0 / (v + self.eps).sqrt()) as f32)
            .collect();
        let unbiased_var: Vec<f32> = var
            .iter()
            .map(|&v| (v * m as f64 / (m - 1) as f64) as f32)
            .collect();
        // y = act((u − μ)·a + β), a = γ/σ: subtracting the mean first keeps the precision
        // that `u·a + (β − μ·a)` would lose when the mean is large against σ.
        let a: Vec<f32> = gamma.iter().zip(&inv_std).map(|(g, i)| g * i).collect();
        let ch = BnChannels {
            mean: &mean,
            inv_std: &inv_std,
            scale: &a,
            beta,
        };
        let rows = rows_per_task(m, c);
        let mut y = uninit(u.len());
        slots(&mut y, u.len())
            .par_chunks_mut(rows * c)
            .zip(u.par_chunks(rows * c))
            .for_each(|(y, u)| bn_forward(u, y, ch, self.activation));
        // SAFETY: `bn_forward` wrote every slot of every chunk.
        unsafe { finish(&mut y, u.len()) };
        *self.measured.lock().unwrap_or_else(PoisonError::into_inner) = Some(Measured {
            mean,
            inv_std,
            unbiased_var,
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        u: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let measured = self.measured()?;
        let c = measured.mean.len();
        let grad_res = grad_res.contiguous()?;
        let activation = self.activation;
        let (du, dgamma, dbeta) = with_cpu_f32(&[&grad_res, res, u, gamma], |t| {
            let (dy, y, u, gamma) = (t[0], t[1], t[2], t[3]);
            let m = u.len() / c;
            let rows = rows_per_task(m, c);
            let scale: Vec<f32> = gamma
                .iter()
                .zip(&measured.inv_std)
                .map(|(g, i)| g * i)
                .collect();
            let ch = BnChannels {
                mean: &measured.mean,
                inv_std: &measured.inv_std,
                scale: &scale,
                beta: &[],
            };
            // Pass 1: Σ dz and Σ dz·û per channel (f32 over runs of 64 rows, f64 across).
            let (sum_dz, sum_dz_xhat) = dy
                .par_chunks(rows * c)
                .zip(y.par_chunks(rows * c))
                .zip(u.par_chunks(rows * c))
                .map(|((dy, y), u)| {
                    let (mut s, mut p) = (vec![0f32; c], vec![0f32; c]);
                    let (mut s64, mut p64) = (vec![0f64; c], vec![0f64; c]);
                    for ((dy, y), u) in dy
                        .chunks(64 * c)
                        .zip(y.chunks(64 * c))
                        .zip(u.chunks(64 * c))
                    {
                        bn_backward_sums(BnRows { dy, y, u }, ch, &mut s, &mut p, activation);
                        flush(&mut s, &mut s64);
                        flush(&mut p, &mut p64);
                    }
                    (s64, p64)
                })
                .reduce(|| (vec![0f64; c], vec![0f64; c]), add_pairs);
            // Pass 2: du = γ/σ · (dz − Σdz/M − û·Σ(dz·û)/M).
            let mean_dz: Vec<f32> = sum_dz.iter().map(|&v| (v / m as f64) as f32).collect();
            let mean_dz_xhat: Vec<f32> =
                sum_dz_xhat.iter().map(|&v| (v / m as f64) as f32).collect();
            let grad = BnGrad {
                mean_dz: &mean_dz,
                mean_dz_xhat: &mean_dz_xhat,
            };
            let mut du = uninit(u.len());
            slots(&mut du, u.len())
                .par_chunks_mut(rows * c)
                .zip(dy.par_chunks(rows * c))
                .zip(y.par_chunks(rows * c))
                .zip(u.par_chunks(rows * c))
                .for_each(|(((du, dy), y), u)| {
                    bn_backward(BnRows { dy, y, u }, du, ch, grad, activation)
                });
            // SAFETY: `bn_backward` wrote every slot of every chunk.
            unsafe { finish(&mut du, u.len()) };
            let dgamma: Vec<f32> = sum_dz_xhat.iter().map(|&v| v as f32).collect();
            let dbeta: Vec<f32> = sum_dz.iter().map(|&v| v as f32).collect();
            Ok((du, dgamma, dbeta))
        })?;
        let device = u.device();
        Ok((
            Some(Tensor::from_vec(du, u.shape(), device)?),
            Some(Tensor::from_vec(dgamma, c, device)?),
            Some(Tensor::from_vec(dbeta, c, device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::{max_abs_diff, probed_grads};
    use candle_core::{Device, Var};
    use candle_nn::{BatchNorm, ModuleT};

    fn relative(a: &Tensor, b: &Tensor) -> f32 {
        let scale = b.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        max_abs_diff(a, b) / scale.to_scalar::<f32>().unwrap().max(1e-6)
    }

    #[test]
    fn values_gradients_and_statistics_match_candle_batch_norm() {
        let dev = Device::Cpu;
        for activation in [Activation::Identity, Activation::Relu6] {
            let (n, h, w, c) = (3, 5, 4, 20);
            let u = Var::from_tensor(&(Tensor::randn(0.5f32, 2.0, (n, h, w, c), &dev).unwrap()))
                .unwrap();
            let gamma = Var::from_tensor(&Tensor::randn(1f32, 0.5, c, &dev).unwrap()).unwrap();
            let beta = Var::from_tensor(&Tensor::randn(2f32, 1.0, c, &dev).unwrap()).unwrap();
            let op = BatchNormAct::new(1e-3, activation);
            let got = op.forward(&u, &gamma, &beta).unwrap();

            let reference = BatchNorm::new(
                c,
                Tensor::zeros(c, candle_core::DType::F32, &dev).unwrap(),
                Tensor::ones(c, candle_core::DType::F32, &dev).unwrap(),
                gamma.as_tensor().clone(),
                beta.as_tensor().clone(),
                1e-3,
            )
            .unwrap();
            let rows = u.reshape((n * h * w, c)).unwrap();
            let want = reference
                .forward_t(&rows, true)
                .unwrap()
                .reshape((n, h, w, c))
                .unwrap();
            let want = match activation {
                Activation::Relu6 => want.clamp(0f32, 6f32).unwrap(),
                _ => want,
            };
            assert!(relative(&got, &want) < 1e-5, "{activation:?} values");

            // Candle's running averages after one step with momentum 1 are the batch's.
            let stats = op.batch_stats().unwrap();
            let mean = rows.mean(0).unwrap().to_vec1::<f32>().unwrap();
            for (a, b) in stats.mean.iter().zip(&mean) {
                assert!((a - b).abs() < 1e-5);
            }
            let m = (n * h * w) as f32;
            let var = rows
                .broadcast_sub(&rows.mean_keepdim(0).unwrap())
                .unwrap()
                .sqr()
                .unwrap()
                .sum(0)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for (a, b) in stats.unbiased_var.iter().zip(&var) {
                assert!((a - b / (m - 1.0)).abs() < 1e-4 * b.max(1.0));
            }

            let probe = Tensor::randn(0f32, 1.0, got.shape(), &dev).unwrap();
            let g_got = probed_grads(&got, &probe);
            let g_want = probed_grads(&want, &probe);
            for (name, var) in [("u", &u), ("gamma", &gamma), ("beta", &beta)] {
                let err = relative(g_got.get(var).unwrap(), g_want.get(var).unwrap());
                assert!(
                    err < 1e-4,
                    "{activation:?}: gradient of {name} off by {err}"
                );
            }
        }
    }

    #[test]
    fn a_single_row_is_refused() {
        let dev = Device::Cpu;
        let u = Tensor::ones((1, 1, 1, 4), candle_core::DType::F32, &dev).unwrap();
        let g = Tensor::ones(4, candle_core::DType::F32, &dev).unwrap();
        let op = BatchNormAct::new(1e-3, Activation::Identity);
        assert!(op.forward(&u, &g, &g).is_err());
    }
}
