//! The fused convolution against Candle's generic, differentiable ops, in values and
//! gradients, for the 1×1, stem and shallow-branch shapes; inputs without gradients and
//! refused shapes.

use super::*;
use crate::model::test_util::{max_abs_diff, probed_grads};
use candle_core::{Device, Var};

/// The same convolution from Candle's generic, differentiable ops (NCHW conv2d with
/// explicit padding, a broadcast bias, the activation).
fn reference(op: &ConvAct, x: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (_, _, _, c) = x.dims4()?;
    let (_, o) = weight.dims2()?;
    let p = op.padding;
    // K × O with rows (ky, kx, c) → O × C × KH × KW.
    let w = weight
        .t()?
        .reshape((o, op.kernel_h, op.kernel_w, c))?
        .permute((0, 3, 1, 2))?
        .contiguous()?;
    let y = x
        .permute((0, 3, 1, 2))?
        .pad_with_zeros(2, p.top, p.bottom)?
        .pad_with_zeros(3, p.left, p.right)?
        .conv2d(&w, 0, op.stride, 1, 1)?
        .permute((0, 2, 3, 1))?
        .broadcast_add(bias)?;
    match op.activation {
        Activation::Identity => Ok(y),
        Activation::Relu => y.relu(),
        Activation::Relu6 => y.clamp(0f32, 6f32),
    }
}

fn relative(a: &Tensor, b: &Tensor) -> f32 {
    let scale = b.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
    max_abs_diff(a, b) / scale.to_scalar::<f32>().unwrap().max(1e-6)
}

#[test]
fn values_and_gradients_match_candle() {
    let dev = Device::Cpu;
    let cases = [
        // 1×1 (the matrix-product path), each activation.
        (ConvAct::pointwise(Activation::Relu6), 2, 5, 7, 24, 40),
        (ConvAct::pointwise(Activation::Identity), 3, 4, 4, 40, 24),
        // The stem: 3×3, stride 2, TF "SAME" padding (asymmetric).
        (
            ConvAct::square(3, 2, Padding2d::same(15, 12, 3, 2), Activation::Relu6),
            2,
            15,
            12,
            3,
            32,
        ),
        // The shallow branch: 3×3, stride 1, padding 1, ReLU.
        (
            ConvAct::square(
                3,
                1,
                Padding2d {
                    top: 1,
                    bottom: 1,
                    left: 1,
                    right: 1,
                },
                Activation::Relu,
            ),
            2,
            9,
            11,
            16,
            32,
        ),
    ];
    for (op, n, h, w, c, o) in cases {
        let x = Var::from_tensor(&(Tensor::randn(0f32, 1.0, (n, h, w, c), &dev).unwrap())).unwrap();
        let k = op.kernel_h * op.kernel_w * c;
        let scale = (2.0 / k as f64).sqrt() as f32;
        let weight =
            Var::from_tensor(&(Tensor::randn(0f32, scale, (k, o), &dev).unwrap() * 3.0).unwrap())
                .unwrap();
        let bias = Var::from_tensor(&Tensor::randn(0f32, 1.0, o, &dev).unwrap()).unwrap();
        let got = op.forward(&x, &weight, &bias).unwrap();
        let want = reference(&op, &x, &weight, &bias).unwrap();
        assert_eq!(got.dims(), want.dims(), "{op:?}");
        assert!(
            relative(&got, &want) < 1e-5,
            "{op:?}: values {}",
            relative(&got, &want)
        );

        // A loss that weighs every output differently.
        let probe = Tensor::randn(0f32, 1.0, got.shape(), &dev).unwrap();
        let g_got = probed_grads(&got, &probe);
        let g_want = probed_grads(&want, &probe);
        for (name, var) in [("x", &x), ("weight", &weight), ("bias", &bias)] {
            let a = g_got.get(var).unwrap();
            let b = g_want.get(var).unwrap();
            let err = relative(a, b);
            assert!(err < 1e-4, "{op:?}: gradient of {name} off by {err}");
        }
    }
}

#[test]
fn an_input_without_gradient_gets_none() {
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1.0, (2, 6, 6, 3), &dev).unwrap();
    let weight = Var::from_tensor(&Tensor::randn(0f32, 0.3, (27, 8), &dev).unwrap()).unwrap();
    let bias = Var::from_tensor(&Tensor::zeros(8, candle_core::DType::F32, &dev).unwrap()).unwrap();
    let op = ConvAct::square(
        3,
        1,
        Padding2d {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        },
        Activation::Relu,
    );
    let y = op.forward(&x, &weight, &bias).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none());
    assert!(grads.get(&weight).is_some());
}

#[test]
fn bad_shapes_are_refused() {
    let dev = Device::Cpu;
    let x = Tensor::zeros((1, 4, 4, 3), candle_core::DType::F32, &dev).unwrap();
    let weight = Tensor::zeros((26, 8), candle_core::DType::F32, &dev).unwrap();
    let bias = Tensor::zeros(8, candle_core::DType::F32, &dev).unwrap();
    let op = ConvAct::square(3, 1, Padding2d::default(), Activation::Relu);
    assert!(op.forward(&x, &weight, &bias).is_err());
    let small = Tensor::zeros((1, 2, 2, 3), candle_core::DType::F32, &dev).unwrap();
    let weight = Tensor::zeros((27, 8), candle_core::DType::F32, &dev).unwrap();
    assert!(op.forward(&small, &weight, &bias).is_err());
}
