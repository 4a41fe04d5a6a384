//! The feature extractor (paper §III, Fig. 1–2): backbones, weights I/O, the shallow branch,
//! the parallel network with its head, and systems (a named, frozen model that embeds).

pub mod backbone;
pub mod depthwise;
pub mod lite0;
pub mod network;
pub mod pickle;
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
