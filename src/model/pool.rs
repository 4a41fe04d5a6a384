//! Pooling on channels-last maps, as differentiable Candle custom ops: the average pool and
//! the global mean and maximum of the shallow branch.
//!
//! From Candle's generic ops these are a reshape and two strided reductions (average pool)
//! or a reduction each (mean, max), every one with its own backward pass through broadcasts;
//! in a head-mode training step, where the rest is a few small matrix products, they were
//! most of the time. Each op here is one pass forward and one backward; the maximum's
//! backward finds the winning pixel again from the output (ties go to the first pixel, as
//! the forward pass took it).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use super::cpu_data::{f32_slice, with_cpu_f32};

/// Average pool of side and stride `side` on an `N×H×W×C` map; rows and columns past the
/// last whole window are dropped (as Candle's `avg_pool2d` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool {
    pub side: usize,
}

impl AvgPool {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.side == 0 {
            bail!("average pool: the side must be at least 1")
        }
        x.contiguous()?.apply_op1(*self)
    }

    fn sizes(&self, input: &Shape) -> Result<(usize, usize, usize, usize, usize, usize)> {
        let (n, h, w, c) = input.dims4()?;
        let (oh, ow) = (h / self.side, w / self.side);
        if oh == 0 || ow == 0 {
            bail!(
                "average pool: a {h}×{w} map is smaller than the {0}×{0} pool",
                self.side
            )
        }
        Ok((n, h, w, c, oh, ow))
    }
}

impl CustomOp1 for AvgPool {
    fn name(&self) -> &'static str {
        "avg-pool-nhwc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "convolution", Some("input"))?;
        let (n, h, w, c, oh, ow) = self.sizes(l.shape())?;
        let p = self.side;
        let scale = 1.0 / (p * p) as f32;
        let mut out = vec![0f32; n * oh * ow * c];
        out.par_chunks_mut(ow * c)
            .enumerate()
            .for_each(|(row, dst)| {
                let (image, oy) = (row / oh, row % oh);
                for ky in 0..p {
                    let src = &x[((image * h + oy * p + ky) * w) * c..][..w * c];
                    for (ox, d) in dst.chunks_exact_mut(c).enumerate() {
                        for kx in 0..p {
                            for (d, v) in d.iter_mut().zip(&src[(ox * p + kx) * c..][..c]) {
                                *d += v;
                            }
                        }
                    }
                }
                for d in dst.iter_mut() {
                    *d *= scale;
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, oh, ow, c))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !x.track_op() {
            return Ok(None);
        }
        let (n, h, w, c, oh, ow) = self.sizes(x.shape())?;
        let p = self.side;
        let scale = 1.0 / (p * p) as f32;
        let grad = grad.contiguous()?;
        let dx = with_cpu_f32(&[&grad], |t| {
            let g = t[0];
            let mut dx = vec![0f32; n * h * w * c];
            dx.par_chunks_mut(w * c).enumerate().for_each(|(row, dst)| {
                let (image, iy) = (row / h, row % h);
                let oy = iy / p;
                if oy >= oh {
                    return;
                }
                let src = &g[((image * oh + oy) * ow) * c..][..ow * c];
                for (ox, s) in src.chunks_exact(c).enumerate() {
                    for kx in 0..p {
                        for (d, v) in dst[(ox * p + kx) * c..][..c].iter_mut().zip(s) {
                            *d = v * scale;
                        }
                    }
                }
            });
            Ok(dx)
        })?;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// `N×H×W×C` → `N × 2C`: each channel's mean over the pixels, then each channel's maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalMeanMax;

impl GlobalMeanMax {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(*self)
    }
}

impl CustomOp1 for GlobalMeanMax {
    fn name(&self) -> &'static str {
        "global-mean-max-nhwc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s, l, "convolution", Some("input"))?;
        let (n, h, w, c) = l.shape().dims4()?;
        let pixels = h * w;
        if pixels == 0 {
            bail!("global pooling of an empty map {:?}", l.dims())
        }
        let mut out = vec![0f32; n * 2 * c];
        out.par_chunks_mut(2 * c)
            .enumerate()
            .for_each(|(image, dst)| {
                let (mean, max) = dst.split_at_mut(c);
                max.fill(f32::NEG_INFINITY);
                for px in x[image * pixels * c..][..pixels * c].chunks_exact(c) {
                    for ((s, m), &v) in mean.iter_mut().zip(max.iter_mut()).zip(px) {
                        *s += v;
                        if v > *m {
                            *m = v;
                        }
                    }
                }
                for s in mean.iter_mut() {
                    *s /= pixels as f32;
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, 2 * c))))
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !x.track_op() {
            return Ok(None);
        }
        let (n, h, w, c) = x.dims4()?;
        let pixels = h * w;
        let grad = grad.contiguous()?;
        let dx = with_cpu_f32(&[x, res, &grad], |t| {
            let (x, res, g) = (t[0], t[1], t[2]);
            let mut dx = vec![0f32; n * pixels * c];
            dx.par_chunks_mut(pixels * c)
                .enumerate()
                .for_each(|(image, dst)| {
                    let (g_mean, g_max) = g[image * 2 * c..][..2 * c].split_at(c);
                    let max = &res[image * 2 * c + c..][..c];
                    let src = &x[image * pixels * c..][..pixels * c];
                    let share: Vec<f32> = g_mean.iter().map(|v| v / pixels as f32).collect();
                    let mut found = vec![false; c];
                    for (d, px) in dst.chunks_exact_mut(c).zip(src.chunks_exact(c)) {
                        for i in 0..c {
                            d[i] = share[i];
                            if !found[i] && px[i] == max[i] {
                                d[i] += g_max[i];
                                found[i] = true;
                            }
                        }
                    }
                });
            Ok(dx)
        })?;
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::{max_abs_diff, probed_grads};
    use candle_core::{D, Device, Var};

    #[test]
    fn average_pool_matches_candle_in_values_and_gradients() {
        let dev = Device::Cpu;
        // 9×10 with a pool of 2 drops the last row; Candle's gradient is only right when the
        // pool divides the sides, so the gradient is compared on an 8×10 map.
        for (h, w, check_grad) in [(9, 10, false), (8, 10, true)] {
            let x =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, h, w, 5), &dev).unwrap()).unwrap();
            let got = AvgPool { side: 2 }.forward(&x).unwrap();
            let want = x
                .permute((0, 3, 1, 2))
                .unwrap()
                .avg_pool2d(2)
                .unwrap()
                .permute((0, 2, 3, 1))
                .unwrap();
            assert!(max_abs_diff(&got, &want) < 1e-6);
            if check_grad {
                let probe = Tensor::randn(0f32, 1.0, got.dims(), &dev).unwrap();
                let a = probed_grads(&got, &probe);
                let b = probed_grads(&want, &probe);
                assert!(max_abs_diff(a.get(&x).unwrap(), b.get(&x).unwrap()) < 1e-6);
            }
        }
    }

    #[test]
    fn global_mean_and_max_match_candle_in_values_and_gradients() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 4, 5, 6), &dev).unwrap()).unwrap();
        let got = GlobalMeanMax.forward(&x).unwrap();
        let pixels = x.reshape((3, 20, 6)).unwrap();
        let want = Tensor::cat(
            &[pixels.mean(1).unwrap(), pixels.max(1).unwrap()],
            D::Minus1,
        )
        .unwrap();
        assert!(max_abs_diff(&got, &want) < 1e-6);
        let probe = Tensor::randn(0f32, 1.0, got.dims(), &dev).unwrap();
        let a = probed_grads(&got, &probe);
        let b = probed_grads(&want, &probe);
        assert!(max_abs_diff(a.get(&x).unwrap(), b.get(&x).unwrap()) < 1e-6);
    }
}
