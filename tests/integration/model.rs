//! EfficientNet-Lite0, Lite1 and Lite2 against the reference implementation: the shipped
//! weights must give the pooled features and logits that PyTorch gave
//! (`efficientnet-lite-pytorch` 0.1.0, eval mode) on the two normalised images in
//! `tests/fixtures/lite{0,1,2}_golden.safetensors` (224, 240 and 260 px; Lite1's and Lite2's
//! made by `benches/lite_golden.sh`).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use vitrine::model::lite0::{Kernels, Lite0, Lite0Config};

/// The largest difference allowed between our outputs and the reference's.
const TOLERANCE: f32 = 1e-3;

fn load(relative: &str) -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lite0() -> Lite0 {
    lite("lite0", &Lite0Config::lite0())
}

/// The Lite `variant` (`lite0`, `lite1`, `lite2`) with its shipped weights.
fn lite(variant: &str, config: &Lite0Config) -> Lite0 {
    vitrine::init_threads();
    let weights = load(&format!("weights/efficientnet-{variant}.safetensors"));
    let vb = VarBuilder::from_tensors(weights, DType::F32, &Device::Cpu);
    Lite0::new(vb, config).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

fn check_against_golden(model: &Lite0, what: &str) {
    check_against(model, "lite0", what);
}

/// `model` on `tests/fixtures/{variant}_golden.safetensors`' input gives its pooled features
/// and logits within [`TOLERANCE`], and the same top-1 classes.
fn check_against(model: &Lite0, variant: &str, what: &str) {
    let golden = load(&format!("tests/fixtures/{variant}_golden.safetensors"));
    let input = &golden["input"];
    let what = format!("{variant}, {what}");
    assert_eq!(input.dim(2).unwrap(), model.config().image_size, "{what}");
    let pooled = model.pooled(input).unwrap();
    let logits = model.logits_from_pooled_t(&pooled, false).unwrap();
    let pooled_err = max_abs_diff(&pooled, &golden["pooled"]);
    let logits_err = max_abs_diff(&logits, &golden["logits"]);
    eprintln!("{what}: max abs error pooled {pooled_err:.2e}, logits {logits_err:.2e}");
    assert!(
        pooled_err <= TOLERANCE,
        "{what}: pooled off by {pooled_err}"
    );
    assert!(
        logits_err <= TOLERANCE,
        "{what}: logits off by {logits_err}"
    );
    let ours = logits.argmax(1).unwrap().to_vec1::<u32>().unwrap();
    let theirs = golden["logits"]
        .argmax(1)
        .unwrap()
        .to_vec1::<u32>()
        .unwrap();
    assert_eq!(ours, theirs, "{what}: top-1 classes differ");
}

#[test]
fn lite0_matches_pytorch_reference_outputs() {
    check_against_golden(&lite0(), "fused kernels");
}

#[test]
fn lite0_on_candle_ops_matches_pytorch_reference_outputs() {
    check_against_golden(&lite0().with_kernels(Kernels::Candle), "candle ops");
}

#[test]
fn lite0_features_are_the_last_conv_map() {
    let model = lite0();
    let golden = load("tests/fixtures/lite0_golden.safetensors");
    let input = &golden["input"];
    let features = model.features(input).unwrap();
    assert_eq!(features.dims(), [2, 1280, 7, 7]);
    // ReLU6 bounds every value, and pooling the map gives the pooled features.
    let max = features.max_all().unwrap().to_scalar::<f32>().unwrap();
    let min = features.min_all().unwrap().to_scalar::<f32>().unwrap();
    assert!((0.0..=6.0).contains(&min) && (0.0..=6.0).contains(&max));
    let pooled = features.mean((2, 3)).unwrap();
    assert!(max_abs_diff(&pooled, &golden["pooled"]) <= TOLERANCE);
}

#[test]
fn lite1_matches_pytorch_reference_outputs() {
    let model = lite("lite1", &Lite0Config::lite1());
    check_against(&model, "lite1", "fused kernels");
    check_against(&model.with_kernels(Kernels::Candle), "lite1", "candle ops");
}

#[test]
fn lite2_matches_pytorch_reference_outputs() {
    let model = lite("lite2", &Lite0Config::lite2());
    check_against(&model, "lite2", "fused kernels");
    check_against(&model.with_kernels(Kernels::Candle), "lite2", "candle ops");
}
