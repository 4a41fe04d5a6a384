//! The feature extractor (paper §III, Fig. 1–2): backbones, weights I/O, the shallow branch,
//! the parallel network with its head, and systems (a named, frozen model that embeds).

pub mod backbone;
pub mod batch_norm;
pub mod conv;
pub(crate) mod cpu_data;
pub mod depthwise;
pub mod efficientnet;
pub(crate) mod elementwise;
pub(crate) mod f32x16;
pub mod lite0;
pub mod network;
pub mod pickle;
pub mod pool;
pub mod resnet;
pub mod shallow;
pub mod system;
pub mod weights;

/// The 1000 ImageNet-1k class names in the standard index order (0 = "tench", 999 = "toilet
/// tissue"), for labelling the pretrained classifier's outputs. See `assets/README.md`.
pub fn imagenet_classes() -> Vec<&'static str> {
    include_str!("../../assets/imagenet_classes.txt")
        .lines()
        .collect()
}

/// Helpers the model's tests share.
#[cfg(test)]
pub(crate) mod test_util {
    use candle_core::Tensor;

    /// Pseudo-random tensors from a seeded stream (Candle's own `randn` draws from the thread's
    /// generator), for tests that must see the same data on every run: a comparison of two
    /// numerical paths through ReLU6 can otherwise land a value on a kink now and then.
    pub struct Seeded(rand_chacha::ChaCha8Rng);

    impl Seeded {
        pub fn new(seed: u64) -> Self {
            use rand::SeedableRng;
            Self(rand_chacha::ChaCha8Rng::seed_from_u64(seed))
        }

        /// Uniform values in `lo..hi`.
        pub fn uniform(&mut self, lo: f32, hi: f32, shape: &[usize]) -> Tensor {
            use rand::Rng;
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n).map(|_| self.0.random_range(lo..hi)).collect();
            Tensor::from_vec(v, shape, &candle_core::Device::Cpu).unwrap()
        }

        /// Normal values (Box–Muller).
        pub fn normal(&mut self, mean: f32, std: f32, shape: &[usize]) -> Tensor {
            use rand::Rng;
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| {
                    let u1: f32 = self.0.random_range(f32::EPSILON..1.0);
                    let u2: f32 = self.0.random_range(0.0..1.0);
                    mean + std * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
                })
                .collect();
            Tensor::from_vec(v, shape, &candle_core::Device::Cpu).unwrap()
        }
    }

    /// The gradients of `Σ out·probe`: a loss that weighs every output differently, so a
    /// wrong gradient anywhere shows (compare two paths with the same `probe`).
    pub fn probed_grads(out: &Tensor, probe: &Tensor) -> candle_core::backprop::GradStore {
        (out * probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
    }

    /// The largest absolute difference between two tensors of one shape.
    pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn imagenet_classes_are_the_standard_thousand() {
        let classes = super::imagenet_classes();
        assert_eq!(classes.len(), 1000);
        assert_eq!(classes[0], "tench");
        assert_eq!(classes[1], "goldfish");
        assert_eq!(classes[999], "toilet tissue");
        assert!(classes.iter().all(|c| !c.is_empty() && c.trim() == *c));
    }
}
