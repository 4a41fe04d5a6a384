//! What the backbone tests share: timm's state dicts written out by hand (names and shapes,
//! from timm's module structure), random weights of a sensible scale for them, and the checks
//! every backbone must pass (train mode uses batch statistics; `named_tensors` gives back what
//! was loaded).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, IndexOp, Tensor};

use super::{Backbone, NamedShapes, expected_weights};

pub(crate) type Shapes = NamedShapes;

/// A batch norm as timm saves it (with its integer `num_batches_tracked` counter).
fn push_bn(shapes: &mut Shapes, prefix: &str, channels: usize) {
    for leaf in ["weight", "bias", "running_mean", "running_var"] {
        shapes.push((format!("{prefix}.{leaf}"), vec![channels]));
    }
    shapes.push((format!("{prefix}.num_batches_tracked"), vec![]));
}

fn push(shapes: &mut Shapes, name: String, shape: &[usize]) {
    shapes.push((name, shape.to_vec()));
}

/// timm `resnet50`'s whole state dict, written out from timm's module structure.
pub(crate) fn timm_resnet50() -> Shapes {
    let mut s = Shapes::new();
    push(&mut s, "conv1.weight".into(), &[64, 3, 7, 7]);
    push_bn(&mut s, "bn1", 64);
    let mut c_in = 64;
    for (stage, (blocks, width)) in [(3, 64), (4, 128), (6, 256), (3, 512)]
        .into_iter()
        .enumerate()
    {
        let out = 4 * width;
        for b in 0..blocks {
            let p = format!("layer{}.{b}", stage + 1);
            push(&mut s, format!("{p}.conv1.weight"), &[width, c_in, 1, 1]);
            push_bn(&mut s, &format!("{p}.bn1"), width);
            push(&mut s, format!("{p}.conv2.weight"), &[width, width, 3, 3]);
            push_bn(&mut s, &format!("{p}.bn2"), width);
            push(&mut s, format!("{p}.conv3.weight"), &[out, width, 1, 1]);
            push_bn(&mut s, &format!("{p}.bn3"), out);
            if b == 0 {
                push(
                    &mut s,
                    format!("{p}.downsample.0.weight"),
                    &[out, c_in, 1, 1],
                );
                push_bn(&mut s, &format!("{p}.downsample.1"), out);
            }
            c_in = out;
        }
    }
    push(&mut s, "fc.weight".into(), &[1000, 2048]);
    push(&mut s, "fc.bias".into(), &[1000]);
    s
}

/// timm `efficientnet_b*`'s whole state dict for a width and depth multiplier, written
/// out from timm's `arch_def` and block classes.
pub(crate) fn timm_efficientnet(width: f64, depth: f64) -> Shapes {
    // timm's round_channels: a multiple of 8, never more than 10 % below.
    let round = |c: usize| {
        let exact = c as f64 * width;
        let v = ((exact + 4.0) as usize / 8 * 8).max(8);
        if (v as f64) < 0.9 * exact { v + 8 } else { v }
    };
    let mut s = Shapes::new();
    let stem = round(32);
    push(&mut s, "conv_stem.weight".into(), &[stem, 3, 3, 3]);
    push_bn(&mut s, "bn1", stem);
    // ds_r1_k3_s1_e1_c16, ir_r2_k3_s2_e6_c24, ir_r2_k5_s2_e6_c40, ir_r3_k3_s2_e6_c80,
    // ir_r3_k5_s1_e6_c112, ir_r4_k5_s2_e6_c192, ir_r1_k3_s1_e6_c320; all se0.25.
    let arch = [
        (1, 3, 1, 16),
        (2, 3, 6, 24),
        (2, 5, 6, 40),
        (3, 3, 6, 80),
        (3, 5, 6, 112),
        (4, 5, 6, 192),
        (1, 3, 6, 320),
    ];
    let mut c_in = stem;
    for (stage, (repeats, k, e, out)) in arch.into_iter().enumerate() {
        let out = round(out);
        for b in 0..(repeats as f64 * depth).ceil() as usize {
            let p = format!("blocks.{stage}.{b}");
            let (mid, rd) = (c_in * e, c_in / 4);
            let se = |s: &mut Shapes| {
                push(s, format!("{p}.se.conv_reduce.weight"), &[rd, mid, 1, 1]);
                push(s, format!("{p}.se.conv_reduce.bias"), &[rd]);
                push(s, format!("{p}.se.conv_expand.weight"), &[mid, rd, 1, 1]);
                push(s, format!("{p}.se.conv_expand.bias"), &[mid]);
            };
            if e == 1 {
                push(&mut s, format!("{p}.conv_dw.weight"), &[mid, 1, k, k]);
                push_bn(&mut s, &format!("{p}.bn1"), mid);
                se(&mut s);
                push(&mut s, format!("{p}.conv_pw.weight"), &[out, mid, 1, 1]);
                push_bn(&mut s, &format!("{p}.bn2"), out);
            } else {
                push(&mut s, format!("{p}.conv_pw.weight"), &[mid, c_in, 1, 1]);
                push_bn(&mut s, &format!("{p}.bn1"), mid);
                push(&mut s, format!("{p}.conv_dw.weight"), &[mid, 1, k, k]);
                push_bn(&mut s, &format!("{p}.bn2"), mid);
                se(&mut s);
                push(&mut s, format!("{p}.conv_pwl.weight"), &[out, mid, 1, 1]);
                push_bn(&mut s, &format!("{p}.bn3"), out);
            }
            c_in = out;
        }
    }
    let head = round(1280);
    push(&mut s, "conv_head.weight".into(), &[head, c_in, 1, 1]);
    push_bn(&mut s, "bn2", head);
    push(&mut s, "classifier.weight".into(), &[1000, head]);
    push(&mut s, "classifier.bias".into(), &[1000]);
    s
}

/// Whether a timm tensor is a learned parameter (not a running statistic or counter).
fn is_parameter(name: &str) -> bool {
    !(name.ends_with("running_mean")
        || name.ends_with("running_var")
        || name.ends_with("num_batches_tracked"))
}

/// The number of learned parameters, as `sum(p.numel() for p in model.parameters())`.
pub(crate) fn parameter_count(shapes: &Shapes) -> usize {
    shapes
        .iter()
        .filter(|(name, _)| is_parameter(name))
        .map(|(_, shape)| shape.iter().product::<usize>())
        .sum()
}

/// The timm names and shapes a backbone reads: all but the classifier and counters.
pub(crate) fn read_by_backbone(timm: &Shapes, classifier: &str) -> Shapes {
    let mut shapes: Shapes = timm
        .iter()
        .filter(|(name, _)| !name.starts_with(classifier) && !name.ends_with("num_batches_tracked"))
        .cloned()
        .collect();
    shapes.sort();
    shapes
}

pub(crate) fn sorted(mut shapes: Shapes) -> Shapes {
    shapes.sort();
    shapes
}

/// Random weights of a sensible scale for `shapes` (activations stay around 1).
pub(crate) fn random_weights(shapes: &Shapes, dev: &Device) -> HashMap<String, Tensor> {
    shapes
        .iter()
        .map(|(name, shape)| {
            let t = if name.ends_with("num_batches_tracked") {
                Tensor::new(7i64, dev)
            } else if name.ends_with("running_var") || name.ends_with("bn1.weight") {
                Tensor::rand(0.5f32, 1.5, shape.as_slice(), dev)
            } else if shape.len() > 1 {
                let fan_in: usize = shape[1..].iter().product();
                Tensor::randn(0f32, (1.0 / fan_in as f32).sqrt(), shape.as_slice(), dev)
            } else if name.contains(".bn") && name.ends_with(".weight") {
                Tensor::rand(0.5f32, 1.5, shape.as_slice(), dev)
            } else {
                Tensor::randn(0f32, 0.1, shape.as_slice(), dev)
            };
            (name.clone(), t.unwrap())
        })
        .collect()
}

pub(crate) fn save(weights: &HashMap<String, Tensor>, path: &Path) {
    candle_core::safetensors::save(weights, path).unwrap();
}

fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// The largest difference between `a` and `b`, relative to the largest value of `b`.
pub(crate) fn relative_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    max_abs(&(a - b).unwrap()) / max_abs(b).max(1e-12)
}

/// Three different images; batches `[a, b]` and `[a, c]` share their first image.
fn two_batches_sharing_an_image(side: usize, dev: &Device) -> (Tensor, Tensor) {
    let images = Tensor::randn(0f32, 1.0, (3, 3, side, side), dev).unwrap();
    let ab = images.narrow(0, 0, 2).unwrap();
    let ac = Tensor::cat(&[images.i(0..1).unwrap(), images.i(2..3).unwrap()], 0).unwrap();
    (ab, ac)
}

/// Eval mode treats every image alone; train mode normalises with the batch's statistics,
/// so the same image pools differently beside a different neighbour.
pub(crate) fn assert_train_mode_uses_batch_statistics(backbone: &dyn Backbone, side: usize) {
    let dev = Device::Cpu;
    let dim = backbone.feature_dim();
    let (ab, ac) = two_batches_sharing_an_image(side, &dev);
    let eval_ab = backbone.pooled_t(&ab, false).unwrap();
    let eval_ac = backbone.pooled_t(&ac, false).unwrap();
    assert_eq!(eval_ab.dims(), &[2, dim]);
    let first = |t: &Tensor| t.i(0).unwrap();
    assert!(relative_diff(&first(&eval_ab), &first(&eval_ac)) < 1e-5);

    let train_ab = backbone.pooled_t(&ab, true).unwrap();
    let train_ac = backbone.pooled_t(&ac, true).unwrap();
    assert_eq!(train_ab.dims(), &[2, dim]);
    assert!(relative_diff(&first(&train_ab), &first(&train_ac)) > 1e-2);
    assert!(relative_diff(&first(&train_ab), &first(&eval_ab)) > 1e-2);
    for t in [&eval_ab, &train_ab, &train_ac] {
        assert!(max_abs(t).is_finite());
    }
}

/// Every name and value [`Backbone::named_tensors`] gives is one it was loaded from.
pub(crate) fn assert_named_tensors_round_trip(
    backbone: &dyn Backbone,
    weights: &HashMap<String, Tensor>,
) {
    let named = backbone.named_tensors();
    let expected = expected_weights(backbone.kind()).unwrap();
    assert_eq!(named.len(), expected.len());
    for (name, tensor) in &named {
        let loaded = &weights[name];
        assert_eq!(tensor.dims(), loaded.dims(), "{name}");
        assert_eq!(max_abs(&(tensor - loaded).unwrap()), 0.0, "{name}");
    }
}
