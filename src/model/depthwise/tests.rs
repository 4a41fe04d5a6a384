//! The depthwise convolution against Candle's grouped convolution and a differentiable
//! reference, on every instruction set this CPU has.

use super::*;
use crate::model::test_util::{max_abs_diff, probed_grads};
use candle_core::{DType, Device, Var};

#[test]
fn same_padding_matches_tensorflow() {
    // (input, kernel, stride) → (output, before, after), as tf.nn.conv2d(padding="SAME").
    assert_eq!(same_padding(224, 3, 2), (112, 0, 1));
    assert_eq!(same_padding(112, 3, 1), (112, 1, 1));
    assert_eq!(same_padding(112, 3, 2), (56, 0, 1));
    assert_eq!(same_padding(56, 5, 2), (28, 1, 2));
    assert_eq!(same_padding(14, 5, 1), (14, 2, 2));
    assert_eq!(same_padding(14, 5, 2), (7, 1, 2));
    assert_eq!(same_padding(225, 3, 2), (113, 1, 1));
    assert_eq!(same_padding(7, 1, 1), (7, 0, 0));
    assert_eq!(same_padding(2, 5, 1), (2, 2, 2));
    assert_eq!(same_padding(1, 3, 2), (1, 1, 1));
    assert_eq!(
        Padding2d::same(16, 15, 5, 2),
        Padding2d {
            top: 1,
            bottom: 2,
            left: 2,
            right: 2
        }
    );
}

/// Candle's grouped convolution on NCHW, with the same asymmetric padding.
fn candle_reference(
    x_nhwc: &Tensor,
    weight_chw: &Tensor,
    bias: &Tensor,
    stride: usize,
    p: Padding2d,
) -> Result<Tensor> {
    let channels = bias.dim(0)?;
    let x = x_nhwc.permute((0, 3, 1, 2))?;
    let x = x.pad_with_zeros(2, p.top, p.bottom)?;
    let x = x.pad_with_zeros(3, p.left, p.right)?;
    let y = x.conv2d(weight_chw, 0, stride, 1, channels)?;
    y.broadcast_add(&bias.reshape((1, channels, 1, 1))?)?
        .permute((0, 2, 3, 1))?
        .contiguous()
}

#[test]
fn forward_matches_candle_grouped_conv() {
    let dev = Device::Cpu;
    // Channels 40 = two 16-lane blocks and a tail of 8; odd and even sizes.
    for &(kernel, stride, h, w) in &[
        (3, 1, 9, 8),
        (3, 2, 9, 8),
        (5, 1, 7, 10),
        (5, 2, 14, 11),
        (3, 2, 2, 1),
    ] {
        let channels = 40;
        let x = Tensor::randn(0f32, 1.0, (2, h, w, channels), &dev).unwrap();
        let weight = Tensor::randn(0f32, 1.0, (channels, 1, kernel, kernel), &dev).unwrap();
        let bias = Tensor::randn(0f32, 1.0, channels, &dev).unwrap();
        let padding = Padding2d::same(h, w, kernel, stride);
        let expected = candle_reference(&x, &weight, &bias, stride, padding).unwrap();
        let op = DepthwiseConv2d {
            stride,
            padding,
            activation: Activation::Identity,
        };
        let hwc = weight_to_hwc(&weight).unwrap();
        let got = op.forward(&x, &hwc, &bias).unwrap();
        assert_eq!(got.dims(), expected.dims(), "k{kernel} s{stride} {h}×{w}");
        let err = max_abs_diff(&got, &expected);
        assert!(err < 1e-4, "k{kernel} s{stride} {h}×{w}: max error {err}");

        let relu6 = DepthwiseConv2d {
            activation: Activation::Relu6,
            ..op
        };
        let got = relu6.forward(&x, &hwc, &bias).unwrap();
        let err = max_abs_diff(&got, &expected.clamp(0f32, 6f32).unwrap());
        assert!(err < 1e-4, "relu6 k{kernel} s{stride}: max error {err}");
    }
}

#[test]
fn every_instruction_set_matches_candle_on_wide_rows() {
    // Rows wide enough for the pixel groups (8 or 7 pixels at a time with AVX-512, 4
    // with AVX2) and their leftovers, every kernel and stride Lite0 has, and a 7-wide kernel
    // that takes the general path.
    let dev = Device::Cpu;
    for &(kernel, stride, h, w) in &[
        (3, 1, 5, 29),
        (3, 2, 6, 37),
        (5, 1, 6, 27),
        (5, 2, 7, 41),
        (7, 1, 9, 26),
    ] {
        let channels = 37;
        let x = Tensor::randn(0f32, 1.0, (1, h, w, channels), &dev).unwrap();
        let weight = Tensor::randn(0f32, 1.0, (channels, 1, kernel, kernel), &dev).unwrap();
        let bias = Tensor::randn(0f32, 1.0, channels, &dev).unwrap();
        let padding = Padding2d::same(h, w, kernel, stride);
        let expected = candle_reference(&x, &weight, &bias, stride, padding)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let g = Geometry::new(x.shape(), kernel, kernel, stride, padding).unwrap();
        let (xs, ws, bs) = (
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            weight_to_hwc(&weight)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            bias.to_vec1::<f32>().unwrap(),
        );
        for simd in Simd::available() {
            let got = forward_cpu(simd, &g, &xs, &ws, &bs, Activation::Identity);
            let err = got
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                err < 1e-4,
                "{simd:?} k{kernel} s{stride} {h}×{w}: max error {err}"
            );
        }
    }
}

/// The same convolution from differentiable Candle ops (shifted, strided slices), as a
/// reference for the gradients.
fn sliced_reference(
    x: &Tensor,
    weight_hwc: &Tensor,
    bias: &Tensor,
    stride: usize,
    p: Padding2d,
) -> Result<Tensor> {
    let (n, h, w, c) = x.dims4()?;
    let (kh, kw, _) = weight_hwc.dims3()?;
    let oh = (h + p.top + p.bottom - kh) / stride + 1;
    let ow = (w + p.left + p.right - kw) / stride + 1;
    let xp = x
        .pad_with_zeros(1, p.top, p.bottom + stride)?
        .pad_with_zeros(2, p.left, p.right + stride)?;
    let wp = xp.dim(2)?;
    let mut acc = bias.reshape((1, 1, 1, c))?.broadcast_as((n, oh, ow, c))?;
    for ky in 0..kh {
        let rows = xp
            .narrow(1, ky, oh * stride)?
            .reshape((n, oh, stride, wp, c))?
            .narrow(2, 0, 1)?
            .squeeze(2)?;
        for kx in 0..kw {
            let patch = rows
                .narrow(2, kx, ow * stride)?
                .reshape((n, oh, ow, stride, c))?
                .narrow(3, 0, 1)?
                .squeeze(3)?;
            let tap = weight_hwc.narrow(0, ky, 1)?.narrow(1, kx, 1)?.squeeze(0)?;
            acc = acc.broadcast_add(&patch.broadcast_mul(&tap.reshape((1, 1, 1, c))?)?)?;
        }
    }
    Ok(acc)
}

#[test]
fn backward_matches_differentiable_reference() {
    let dev = Device::Cpu;
    for &(kernel, stride, h, w, activation) in &[
        (3, 1, 6, 7, Activation::Identity),
        (3, 2, 7, 6, Activation::Relu6),
        (5, 1, 6, 5, Activation::Relu6),
        (5, 2, 9, 8, Activation::Identity),
    ] {
        let channels = 20;
        let x = Var::randn(0f32, 2.0, (2, h, w, channels), &dev).unwrap();
        let weight = Var::randn(0f32, 1.0, (kernel, kernel, channels), &dev).unwrap();
        let bias = Var::randn(0f32, 1.0, channels, &dev).unwrap();
        let padding = Padding2d::same(h, w, kernel, stride);
        let op = DepthwiseConv2d {
            stride,
            padding,
            activation,
        };
        let got = op.forward(&x, &weight, &bias).unwrap();
        let reference = sliced_reference(x.as_tensor(), &weight, &bias, stride, padding).unwrap();
        let reference = match activation {
            Activation::Identity => reference,
            Activation::Relu6 => reference.clamp(0f32, 6f32).unwrap(),
            Activation::Relu => reference.relu().unwrap(),
        };
        assert!(max_abs_diff(&got, &reference) < 1e-4);

        let probe = Tensor::randn(0f32, 1.0, got.dims(), &dev).unwrap();
        let grads_got = probed_grads(&got, &probe);
        let grads_ref = probed_grads(&reference, &probe);
        for (name, var) in [("input", &x), ("weight", &weight), ("bias", &bias)] {
            let a = grads_got.get(var).unwrap();
            let b = grads_ref.get(var).unwrap();
            let err = max_abs_diff(a, b);
            assert!(
                err < 1e-3,
                "{name} gradient k{kernel} s{stride}: max error {err}"
            );
        }
    }
}

#[test]
fn every_instruction_set_gives_the_same_result() {
    let dev = Device::Cpu;
    let (n, h, w, c, k, stride) = (2, 11, 13, 37, 5, 2);
    let x = Tensor::randn(0f32, 2.0, (n, h, w, c), &dev).unwrap();
    let weight = Tensor::randn(0f32, 1.0, (k, k, c), &dev).unwrap();
    let bias = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
    let padding = Padding2d::same(h, w, k, stride);
    let g = Geometry::new(x.shape(), k, k, stride, padding).unwrap();
    let (xs, ws, bs) = (
        x.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        weight.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        bias.to_vec1::<f32>().unwrap(),
    );
    let results: Vec<Vec<f32>> = Simd::available()
        .into_iter()
        .map(|simd| forward_cpu(simd, &g, &xs, &ws, &bs, Activation::Relu6))
        .collect();
    let same = |results: &[Vec<f32>], what: &str| {
        let portable = results.last().unwrap();
        for result in results {
            let err = result
                .iter()
                .zip(portable)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(err < 1e-4, "{what}: max difference {err}");
        }
    };
    same(&results, "forward");
    // The backward kernels, from one output gradient.
    let grad = &results[0];
    let input_grads: Vec<Vec<f32>> = Simd::available()
        .into_iter()
        .map(|simd| input_grad_cpu(simd, &g, grad, &ws))
        .collect();
    same(&input_grads, "input gradient");
    let weight_grads: Vec<Vec<f32>> = Simd::available()
        .into_iter()
        .map(|simd| weight_grad_cpu(simd, &g, grad, &xs))
        .collect();
    same(&weight_grads, "weight gradient");
    let rows = xs[..3 * c].to_vec();
    let residual = &xs[3 * c..6 * c];
    for simd in Simd::available() {
        let mut got = rows.clone();
        bias_activation_rows(simd, &mut got, &bs, Some(residual), Activation::Relu6);
        for (i, v) in got.iter().enumerate() {
            let expected = (rows[i] + bs[i % c]).clamp(0.0, 6.0) + residual[i];
            assert!((v - expected).abs() < 1e-5, "{simd:?} element {i}");
        }
    }
}

#[test]
fn rejects_other_dtypes_and_small_inputs() {
    let dev = Device::Cpu;
    let op = DepthwiseConv2d {
        stride: 1,
        padding: Padding2d::default(),
        activation: Activation::Identity,
    };
    let w = Tensor::zeros((3, 3, 4), DType::F32, &dev).unwrap();
    let b = Tensor::zeros(4, DType::F32, &dev).unwrap();
    let x64 = Tensor::zeros((1, 5, 5, 4), DType::F64, &dev).unwrap();
    assert!(op.forward(&x64, &w, &b).is_err());
    let tiny = Tensor::zeros((1, 2, 2, 4), DType::F32, &dev).unwrap();
    assert!(op.forward(&tiny, &w, &b).is_err());
}

/// The forward convolution summed in the kernels' order: the bias, then each valid tap row
/// by row, left to right; fused multiply-adds where the instruction set has them, and for
/// the channels past the last 16-lane block (a scalar loop everywhere).
fn same_order_reference(simd: Simd, g: &Geometry, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let c = g.channels;
    let full = c / LANES * LANES;
    let mut out = Vec::new();
    for n in 0..g.batch {
        let image = &x[n * g.image_len()..];
        for oy in 0..g.out_h {
            let (ky0, ky1) = g.taps_y(oy);
            for ox in 0..g.out_w {
                let (kx0, kx1) = g.taps_x(ox);
                for ch in 0..c {
                    let fused = ch < full && simd != Simd::Portable;
                    let mut acc = b[ch];
                    for ky in ky0..ky1 {
                        for kx in kx0..kx1 {
                            let iy = oy * g.stride + ky - g.pad_top;
                            let ix = ox * g.stride + kx - g.pad_left;
                            let v = image[(iy * g.in_w + ix) * c + ch];
                            let t = w[(ky * g.kernel_w + kx) * c + ch];
                            acc = if fused {
                                v.mul_add(t, acc)
                            } else {
                                acc + v * t
                            };
                        }
                    }
                    out.push(acc);
                }
            }
        }
    }
    out
}

#[test]
fn whole_row_groups_give_the_bits_of_summing_tap_by_tap() {
    // Rows that the 8-, 7- and 4-pixel groups cover exactly, with an overlapping last group
    // (13 wide in sevens, 15 in eights), or not at all (narrower than a group); borders on
    // both sides, strides 1 and 2, Lite's 7- and 14-wide maps, and a 7-wide kernel (the
    // general path).
    for &(kernel, stride, h, w) in &[
        (5, 1, 7, 7),
        (5, 1, 14, 14),
        (3, 1, 5, 13),
        (3, 1, 4, 15),
        (5, 2, 9, 30),
        (5, 2, 14, 14),
        (3, 2, 9, 9),
        (5, 1, 3, 3),
        (3, 1, 4, 2),
        (7, 1, 9, 26),
    ] {
        let channels = 37;
        let mut seed = 0x9e37_79b9u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as f32 / u32::MAX as f32 - 0.5
        };
        let xs: Vec<f32> = (0..2 * h * w * channels).map(|_| next()).collect();
        let ws: Vec<f32> = (0..kernel * kernel * channels).map(|_| next()).collect();
        let bs: Vec<f32> = (0..channels).map(|_| next()).collect();
        let padding = Padding2d::same(h, w, kernel, stride);
        let shape = Shape::from((2, h, w, channels));
        let g = Geometry::new(&shape, kernel, kernel, stride, padding).unwrap();
        for simd in Simd::available() {
            let got = forward_cpu(simd, &g, &xs, &ws, &bs, Activation::Identity);
            let expected = same_order_reference(simd, &g, &xs, &ws, &bs);
            assert_eq!(got.len(), expected.len());
            if let Some(i) = (0..got.len()).find(|&i| got[i].to_bits() != expected[i].to_bits()) {
                panic!(
                    "{simd:?} k{kernel} s{stride} {h}×{w}: element {i} is {} against {}",
                    got[i], expected[i]
                );
            }
        }
    }
}
