//! AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), the
//! optimiser of every training run, with Candle's `ParamsAdamW` and the same arithmetic as
//! `candle_nn::AdamW`.
//!
//! Candle's version builds each update from a dozen tensor operations per variable, each
//! allocating and reading its inputs again; with the backbone training, that is a few
//! hundred passes over 3.4 million weights per step. On the CPU this one reads the weight,
//! its gradient and the two moments once, in parallel, and writes the three results back;
//! on other devices it runs Candle's operations.

use crate::model::cpu_data::with_cpu_f32;
use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW};
use rayon::prelude::*;

/// One variable and its moment estimates.
#[derive(Debug)]
struct Slot {
    var: Var,
    first_moment: Var,
    second_moment: Var,
    /// This variable's learning rate as a fraction of the optimiser's.
    lr_factor: f64,
}

/// AdamW with decoupled weight decay; see the module docs.
#[derive(Debug)]
pub struct AdamW {
    slots: Vec<Slot>,
    params: ParamsAdamW,
    step_t: usize,
}

impl AdamW {
    /// Groups of variables, each with its learning rate as a fraction of `params.lr` (a
    /// pretrained backbone takes smaller steps than a new head).
    pub fn with_groups(groups: Vec<(Vec<Var>, f64)>, params: ParamsAdamW) -> Result<Self> {
        let mut slots = Vec::new();
        for (vars, lr_factor) in groups {
            for var in vars.into_iter().filter(|var| var.dtype().is_float()) {
                let first_moment = Var::zeros(var.shape(), var.dtype(), var.device())?;
                let second_moment = Var::zeros(var.shape(), var.dtype(), var.device())?;
                slots.push(Slot {
                    var,
                    first_moment,
                    second_moment,
                    lr_factor,
                });
            }
        }
        Ok(Self {
            slots,
            params,
            step_t: 0,
        })
    }
}

impl Optimizer for AdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        Self::with_groups(vec![(vars, 1.0)], params)
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step_t += 1;
        let p = &self.params;
        for slot in &self.slots {
            let lr = p.lr * slot.lr_factor;
            let step = Step {
                lr,
                decay: 1.0 - lr * p.weight_decay,
                beta1: p.beta1,
                beta2: p.beta2,
                scale_m: 1.0 / (1.0 - p.beta1.powi(self.step_t as i32)),
                scale_v: 1.0 / (1.0 - p.beta2.powi(self.step_t as i32)),
                eps: p.eps,
            };
            if let Some(g) = grads.get(slot.var.as_tensor()) {
                let fused = slot.var.device().is_cpu() && slot.var.dtype() == DType::F32;
                if fused {
                    step.fused(slot, &g.contiguous()?)?;
                } else {
                    step.generic(slot, g)?;
                }
            }
        }
        Ok(())
    }
}

/// The constants of one step.
#[derive(Clone, Copy, Debug)]
struct Step {
    lr: f64,
    /// `1 − lr·λ`: the decoupled weight decay.
    decay: f64,
    beta1: f64,
    beta2: f64,
    /// Bias corrections `1 / (1 − βᵗ)`.
    scale_m: f64,
    scale_v: f64,
    eps: f64,
}

impl Step {
    /// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `θ ← θ(1 − lr·λ) − lr·m̂/(√v̂ + ε)`, in one
    /// pass over the four arrays.
    fn fused(&self, slot: &Slot, grad: &Tensor) -> Result<()> {
        let theta = slot.var.as_tensor().contiguous()?;
        let m = slot.first_moment.as_tensor().contiguous()?;
        let v = slot.second_moment.as_tensor().contiguous()?;
        let (next_theta, next_m, next_v) = with_cpu_f32(&[&theta, grad, &m, &v], |t| {
            let (theta, g, m, v) = (t[0], t[1], t[2], t[3]);
            let n = theta.len();
            let (mut nt, mut nm, mut nv) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
            let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
            let (sm, sv) = (self.scale_m as f32, self.scale_v as f32);
            let (lr, decay, eps) = (self.lr as f32, self.decay as f32, self.eps as f32);
            const CHUNK: usize = 16 * 1024;
            nt.par_chunks_mut(CHUNK)
                .zip(nm.par_chunks_mut(CHUNK))
                .zip(nv.par_chunks_mut(CHUNK))
                .zip(theta.par_chunks(CHUNK))
                .zip(g.par_chunks(CHUNK))
                .zip(m.par_chunks(CHUNK).zip(v.par_chunks(CHUNK)))
                .for_each(|(((((nt, nm), nv), theta), g), (m, v))| {
                    for (((nt, nm), nv), ((&theta, &g), (&m, &v))) in nt
                        .iter_mut()
                        .zip(nm.iter_mut())
                        .zip(nv.iter_mut())
                        .zip(theta.iter().zip(g).zip(m.iter().zip(v)))
                    {
                        let m = b1 * m + (1.0 - b1) * g;
                        let v = b2 * v + (1.0 - b2) * g * g;
                        *nm = m;
                        *nv = v;
                        *nt = theta * decay - lr * (m * sm) / ((v * sv).sqrt() + eps);
                    }
                });
            Ok((nt, nm, nv))
        })?;
        let (shape, device) = (theta.shape(), theta.device());
        slot.first_moment
            .set(&Tensor::from_vec(next_m, shape, device)?)?;
        slot.second_moment
            .set(&Tensor::from_vec(next_v, shape, device)?)?;
        slot.var.set(&Tensor::from_vec(next_theta, shape, device)?)
    }

    /// The same update from Candle's operations (any device or dtype).
    fn generic(&self, slot: &Slot, g: &Tensor) -> Result<()> {
        let (m, v, theta) = (&slot.first_moment, &slot.second_moment, &slot.var);
        let next_m = ((m.as_tensor() * self.beta1)? + (g * (1.0 - self.beta1))?)?;
        let next_v = ((v.as_tensor() * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
        let m_hat = (&next_m * self.scale_m)?;
        let v_hat = (&next_v * self.scale_v)?;
        let next_theta = (theta.as_tensor() * self.decay)?;
        let adjusted = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
        let next_theta = (next_theta - (adjusted * self.lr)?)?;
        m.set(&next_m)?;
        v.set(&next_v)?;
        theta.set(&next_theta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn steps_like_candles_adamw() {
        let dev = Device::Cpu;
        let start = Tensor::randn(0f32, 1.0, (70_000,), &dev).unwrap();
        let ours = Var::from_tensor(&start.copy().unwrap()).unwrap();
        let theirs = Var::from_tensor(&start.copy().unwrap()).unwrap();
        let params = ParamsAdamW {
            lr: 0.01,
            weight_decay: 0.05,
            ..ParamsAdamW::default()
        };
        let mut a = AdamW::new(vec![ours.clone()], params.clone()).unwrap();
        let mut b = candle_nn::AdamW::new(vec![theirs.clone()], params).unwrap();
        let target = Tensor::randn(0f32, 1.0, (70_000,), &dev).unwrap();
        for _ in 0..5 {
            let loss = |v: &Var| {
                (v.as_tensor() - &target)
                    .unwrap()
                    .sqr()
                    .unwrap()
                    .sum_all()
                    .unwrap()
            };
            a.backward_step(&loss(&ours)).unwrap();
            b.backward_step(&loss(&theirs)).unwrap();
        }
        let err = crate::model::test_util::max_abs_diff(ours.as_tensor(), theirs.as_tensor());
        assert!(err < 1e-5, "{err}");
        let moved = crate::model::test_util::max_abs_diff(ours.as_tensor(), &start);
        assert!(moved > 0.01, "{moved}");
    }
}
