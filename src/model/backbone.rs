//! The backbones the feature extractor can embed with (ARCHITECTURE.md §4, paper §III): which
//! networks there are, how big their features and inputs are, and how each is built from a local
//! safetensors file.
//!
//! * **EfficientNet-Lite0, Lite1 and Lite2**: our own port with shipped weights
//!   ([`super::lite0`]; one network, three presets, three files in `weights/`).
//! * **ResNet50** (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016) and
//!   **EfficientNet-B0…B7** (Tan & Le, ICML 2019): weights the user supplies, in **timm's
//!   names** (`timm.create_model("resnet50")`, `"efficientnet_b3"`, … then `state_dict()`
//!   saved as safetensors; Hugging Face's `timm/*` repositories ship exactly such files).
//!   The classifier (`fc.*`, `classifier.*`) and `num_batches_tracked` may be in the file;
//!   they are not read.
//!
//! ## Why not candle-transformers' models
//! candle-transformers 0.11 has both networks, and neither will do:
//! * Its ResNet is a closure (`Func`) that calls every batch norm with `train = false`, so a
//!   fine-tuning pass would neither normalise with batch statistics nor update the running
//!   averages, and nothing reaches the feature map. Its names (`conv1`, `bn1`,
//!   `layer1.0.downsample.{0,1}`, `fc`) are torchvision's, which timm's ResNet shares.
//! * Its EfficientNet is inference-only too, is named like torchvision's
//!   (`features.1.0.block.0.0.weight`, `classifier.1`), and pads the TensorFlow way
//!   ("SAME") with batch-norm ε = 1e-3, which matches neither torchvision's nor timm's
//!   `efficientnet_b*` (symmetric padding, ε = 1e-5). Renaming timm's tensors for it
//!   (`VarBuilder::rename_f`) would load them, but into a slightly different network.
//!
//! So both are written in candle's struct style (one struct per block, `new(vb, cfg)`,
//! names from `vb.pp`, `train` through `forward_t`), with timm's names, in
//! [`super::resnet`] and [`super::efficientnet`]. candle-transformers stays a
//! dev-dependency: the tests check our ResNet50 against its one (same names, eval mode) and
//! our EfficientNet with [`ConvPadding::TfSame`](super::efficientnet::ConvPadding::TfSame)
//! against its one (through a timm → torchvision rename). EfficientNet runs channels-last
//! with 1×1 convolutions as matrix products and, on the CPU, the direct depthwise kernel of
//! [`super::depthwise`]
//! (Candle's grouped convolution is one convolution per channel; ARCHITECTURE.md §13, finding 1).
//!
//! [`load_backbone`] first checks every tensor's name and shape
//! ([`super::weights::load_safetensors_checked`]), so a wrong file is reported by the tensor
//! it lacks, e.g. `resnet50.safetensors: mismatched weights: layer4.2.conv3.weight
//! [2048, 512, 1, 1] is missing (is this a timm ResNet50 checkpoint?)`. The list checked is
//! the one the constructors ask for ([`expected_weights`] builds the network on a backend
//! that only records names and shapes), so check and model cannot drift apart.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{DType, Device, Result, Shape, Tensor, bail};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{BatchNorm, BatchNormConfig, VarBuilder};

use super::efficientnet::{B_VARIANTS, BVariant, EfficientNet, EfficientNetConfig};
use super::lite0::{BatchNormMode, Kernels, Lite0, Lite0Config};
use super::resnet::{ResNet, ResNetConfig};
use super::weights::load_safetensors_checked;
use crate::error::Error;
use crate::vision::preprocess::Preprocess;

/// Tensor names with their shapes.
pub type NamedShapes = Vec<(String, Vec<usize>)>;

/// A backbone architecture, named as systems, configs and the CLI name it ([`Self::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackboneKind {
    /// EfficientNet-Lite0, our port with shipped ImageNet weights.
    Lite0,
    /// EfficientNet-Lite1 (Lite0's port, [`Lite0Config::lite1`]), with shipped weights.
    Lite1,
    /// EfficientNet-Lite2 (Lite0's port, [`Lite0Config::lite2`]), with shipped weights.
    Lite2,
    /// ResNet50, from timm `resnet50` weights.
    ResNet50,
    /// EfficientNet-B0…B7 (the number), from timm `efficientnet_b*` weights. Only 0–7 exist:
    /// [`BackboneKind::parse`] makes no other, the loaders refuse one, and the describing
    /// methods answer for a larger number as for B7.
    EfficientNetB(u8),
}

impl BackboneKind {
    /// Every backbone, the Lite ones (shipped weights) first.
    pub const ALL: [BackboneKind; 12] = [
        BackboneKind::Lite0,
        BackboneKind::Lite1,
        BackboneKind::Lite2,
        BackboneKind::ResNet50,
        BackboneKind::EfficientNetB(0),
        BackboneKind::EfficientNetB(1),
        BackboneKind::EfficientNetB(2),
        BackboneKind::EfficientNetB(3),
        BackboneKind::EfficientNetB(4),
        BackboneKind::EfficientNetB(5),
        BackboneKind::EfficientNetB(6),
        BackboneKind::EfficientNetB(7),
    ];

    /// The kind [`Self::as_str`] names; also accepts `lite0`, `lite1`, `lite2`, timm's
    /// underscores (`efficientnet_b3`) and any letter case.
    pub fn parse(name: &str) -> crate::Result<Self> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|kind| {
                let short = kind.as_str().strip_prefix("efficientnet-");
                kind.as_str() == wanted || (kind.is_lite() && short == Some(&wanted))
            })
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown backbone {name:?}: expected efficientnet-lite0, -lite1 or -lite2 \
                     (or lite0, lite1, lite2), resnet50, or efficientnet-b0 … efficientnet-b7"
                ))
            })
    }

    /// Whether this is one of the EfficientNet-Lite variants: our port, whose weights ship.
    pub fn is_lite(self) -> bool {
        self.lite_config().is_some()
    }

    /// The preset of a Lite variant ([`Lite0Config::lite0`], `lite1`, `lite2`); `None` for
    /// the other backbones.
    pub fn lite_config(self) -> Option<Lite0Config> {
        match self {
            BackboneKind::Lite0 => Some(Lite0Config::lite0()),
            BackboneKind::Lite1 => Some(Lite0Config::lite1()),
            BackboneKind::Lite2 => Some(Lite0Config::lite2()),
            BackboneKind::ResNet50 | BackboneKind::EfficientNetB(_) => None,
        }
    }

    /// The file in `weights/` that holds a Lite variant's ImageNet weights
    /// (`efficientnet-lite1.safetensors` …), found by
    /// [`find_weights`](super::system::find_weights); `None` for backbones whose weights the
    /// user supplies.
    pub fn shipped_weights_file(self) -> Option<&'static str> {
        match self {
            BackboneKind::Lite0 => Some(super::system::LITE0_WEIGHTS_FILE),
            BackboneKind::Lite1 => Some("efficientnet-lite1.safetensors"),
            BackboneKind::Lite2 => Some("efficientnet-lite2.safetensors"),
            BackboneKind::ResNet50 | BackboneKind::EfficientNetB(_) => None,
        }
    }

    /// The backbone's name: `efficientnet-lite0` (as system files already name it),
    /// `efficientnet-lite1`, `efficientnet-lite2`, `resnet50`, `efficientnet-b0` …
    /// `efficientnet-b7`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackboneKind::Lite0 => "efficientnet-lite0",
            BackboneKind::Lite1 => "efficientnet-lite1",
            BackboneKind::Lite2 => "efficientnet-lite2",
            BackboneKind::ResNet50 => "resnet50",
            BackboneKind::EfficientNetB(n) => BVariant::get(n).name,
        }
    }

    /// The width of the pooled features: 1280 (every Lite variant: their head is never
    /// scaled), 2048 (ResNet50), `round(1280 · w)` for B0…B7 (1280, 1280, 1408, 1536, 1792,
    /// 2048, 2304, 2560).
    pub fn feature_dim(self) -> usize {
        match self {
            BackboneKind::Lite0 | BackboneKind::Lite1 | BackboneKind::Lite2 => 1280,
            BackboneKind::ResNet50 => 2048,
            BackboneKind::EfficientNetB(n) => BVariant::get(n).feature_dim,
        }
    }

    /// The side of the square input the weights were trained at: 224 for Lite0, ResNet50
    /// and B0, 240 for Lite1 and B1, 260 for Lite2 and B2, then 300, 380, 456, 528, 600 for
    /// B3…B7. A trained system may use another side (`vitrine train --size`); it keeps its
    /// own in its `system.json`.
    pub fn input_px(self) -> u32 {
        match self {
            BackboneKind::Lite0 | BackboneKind::ResNet50 => 224,
            BackboneKind::Lite1 => 240,
            BackboneKind::Lite2 => 260,
            BackboneKind::EfficientNetB(n) => BVariant::get(n).input_px,
        }
    }

    /// How images are prepared for this backbone: its input side and the normalisation its
    /// weights were trained with (the Lite variants' `(rgb − 127) / 128`, ImageNet mean/std
    /// otherwise).
    pub fn preprocess(self) -> Preprocess {
        self.preprocess_at(self.input_px())
    }

    /// [`Self::preprocess`] at another input side.
    pub fn preprocess_at(self, side_px: u32) -> Preprocess {
        if self.is_lite() {
            Preprocess::lite(side_px)
        } else {
            Preprocess::imagenet(side_px)
        }
    }

    /// Whether this kind's shipped weights are installed here ([`crate::model::system::find_weights`]).
    pub fn has_shipped_weights(self) -> bool {
        self.shipped_weights_file()
            .is_some_and(|file| crate::model::system::find_weights(file).is_ok())
    }

    /// What a weights file for this kind should be, for error messages.
    fn checkpoint_description(self) -> String {
        match self {
            BackboneKind::Lite0 | BackboneKind::Lite1 | BackboneKind::Lite2 => format!(
                "an {} checkpoint (efficientnet-lite-pytorch names, as `weights/` ships)",
                self.as_str()
                    .replace("efficientnet-lite", "EfficientNet-Lite")
            ),
            BackboneKind::ResNet50 => "a timm ResNet50 checkpoint".into(),
            BackboneKind::EfficientNetB(n) => format!("a timm efficientnet_b{n} checkpoint"),
        }
    }

    /// An error for B8 and beyond, which do not exist.
    fn check_exists(self) -> crate::Result<()> {
        match self {
            BackboneKind::EfficientNetB(n) if usize::from(n) >= B_VARIANTS.len() => Err(
                Error::Invalid(format!("EfficientNet-B{n} is not supported (B0 … B7 are)")),
            ),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackboneKind {
    type Err = Error;

    fn from_str(name: &str) -> crate::Result<Self> {
        Self::parse(name)
    }
}

/// A network that turns a batch of images into one feature vector per image.
pub trait Backbone: Send + Sync + fmt::Debug {
    /// Which architecture this is.
    fn kind(&self) -> BackboneKind;

    /// The global average of the last convolution map, `N × feature_dim`, for an `N×3×H×W`
    /// `f32` batch prepared by [`BackboneKind::preprocess`]. `train` normalises with batch
    /// statistics (updating the running averages) and applies stochastic depth where the
    /// network has it; the weights' gradients flow when they are variables.
    fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor>;

    /// The last convolution map, `N × feature_dim × h × w`, and its global average (what
    /// [`Backbone::pooled_t`] gives in inference) from one inference pass, so an explained
    /// query (`crate::explain`) costs no second pass.
    fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)>;

    /// Every tensor the network was built from, under its checkpoint name, so a trained
    /// backbone can be saved and loaded again by [`load_backbone`].
    fn named_tensors(&self) -> Vec<(String, Tensor)>;

    /// The width of [`Backbone::pooled_t`].
    fn feature_dim(&self) -> usize {
        self.kind().feature_dim()
    }

    /// Blocks partial fine-tuning can split this backbone at, to run the frozen part once
    /// ([`Backbone::prefix`], cached) and train the rest ([`Backbone::suffix_pooled_t`]);
    /// `None` where the backbone cannot be split (it then trains through `pooled_t`).
    fn split_blocks(&self) -> Option<usize> {
        None
    }

    /// Inference through the stem and the first `end` blocks (see [`Backbone::split_blocks`]).
    fn prefix(&self, _x: &Tensor, _end: usize) -> Result<Tensor> {
        bail!("{} cannot be split for partial fine-tuning", self.kind())
    }

    /// From a [`Backbone::prefix`] output through blocks `start..` and the head: the pooled
    /// features. `train` is a training pass that keeps the batch norms' running statistics
    /// (their scale and shift train); otherwise inference.
    fn suffix_pooled_t(&self, _h: &Tensor, _start: usize, _train: bool) -> Result<Tensor> {
        bail!("{} cannot be split for partial fine-tuning", self.kind())
    }
}

impl Backbone for Lite0 {
    /// The Lite variant whose preset this network was built with (Lite0 for any other
    /// configuration, as tests build).
    fn kind(&self) -> BackboneKind {
        [BackboneKind::Lite1, BackboneKind::Lite2]
            .into_iter()
            .find(|kind| kind.lite_config().as_ref() == Some(self.config()))
            .unwrap_or(BackboneKind::Lite0)
    }

    fn feature_dim(&self) -> usize {
        Lite0::feature_dim(self)
    }

    fn pooled_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Lite0::pooled_t(self, x, train)
    }

    fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        Lite0::features_and_pooled(self, x)
    }

    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        Lite0::named_tensors(self)
    }

    fn split_blocks(&self) -> Option<usize> {
        Some(self.block_count())
    }

    fn prefix(&self, x: &Tensor, end: usize) -> Result<Tensor> {
        Lite0::prefix(self, x, end)
    }

    fn suffix_pooled_t(&self, h: &Tensor, start: usize, train: bool) -> Result<Tensor> {
        Lite0::suffix_pooled_t(self, h, start, train.then_some(BatchNormMode::Frozen))
    }
}

/// Builds a `kind` backbone from `vb`, whose names are the checkpoint's (timm's for ResNet50
/// and B*). Use this with a `VarMap`-backed builder to fine-tune; [`load_backbone`] for a
/// frozen one from a file.
pub fn build_backbone(kind: BackboneKind, vb: VarBuilder) -> Result<Box<dyn Backbone>> {
    Ok(match kind {
        BackboneKind::Lite0 | BackboneKind::Lite1 | BackboneKind::Lite2 => {
            // Our fused kernels are CPU code; elsewhere Lite runs on Candle's own operations.
            let kernels = if vb.device().is_cpu() {
                Kernels::Fused
            } else {
                Kernels::Candle
            };
            let config = kind.lite_config().unwrap_or_else(Lite0Config::lite0);
            Box::new(Lite0::new(vb, &config)?.with_kernels(kernels))
        }
        BackboneKind::ResNet50 => Box::new(ResNet::new(vb, &ResNetConfig::resnet50())?),
        BackboneKind::EfficientNetB(n) => match EfficientNetConfig::b(n) {
            Some(config) => Box::new(EfficientNet::new(vb, &config)?),
            None => bail!("EfficientNet-B{n} is not supported (B0 … B7 are)"),
        },
    })
}

/// Every tensor a `kind` backbone reads, with its shape, in the order it reads them.
pub fn expected_weights(kind: BackboneKind) -> Result<NamedShapes> {
    let recorder = ShapeRecorder::default();
    let vb = VarBuilder::from_backend(Box::new(recorder.clone()), DType::F32, Device::Cpu);
    build_backbone(kind, vb)?;
    Ok(recorder.take())
}

/// Reads a `kind` checkpoint and checks that every tensor the network needs is there with
/// its shape; extra tensors (a classifier, `num_batches_tracked`) are allowed. A missing file
/// names its path; a mismatched one names the tensors and shapes it should have had.
pub fn load_weights(
    kind: BackboneKind,
    path: &Path,
    device: &Device,
) -> crate::Result<HashMap<String, Tensor>> {
    kind.check_exists()?;
    let expected = expected_weights(kind)?;
    let expected: Vec<(&str, &[usize])> = expected
        .iter()
        .map(|(name, shape)| (name.as_str(), shape.as_slice()))
        .collect();
    load_safetensors_checked(path, &expected, device).map_err(|e| match e {
        Error::File { path, reason } => Error::File {
            path,
            reason: format!("{reason} (is this {}?)", kind.checkpoint_description()),
        },
        other => other,
    })
}

/// A frozen `kind` backbone with the weights of the safetensors file `weights`, on `device`.
/// Errors name the file, and for a wrong file the expected tensor and shape.
pub fn load_backbone(
    kind: BackboneKind,
    weights: &Path,
    device: &Device,
) -> crate::Result<Box<dyn Backbone>> {
    let tensors = load_weights(kind, weights, device)?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    build_backbone(kind, vb)
        .map_err(|e| Error::file(weights, format!("cannot build {kind} from it: {e}")))
}

/// A `VarBuilder` backend that hands out zero-cost placeholder tensors and records what was
/// asked for: how [`expected_weights`] learns the names and shapes from the constructors.
#[derive(Clone, Default)]
struct ShapeRecorder(Arc<Mutex<NamedShapes>>);

impl ShapeRecorder {
    fn take(&self) -> NamedShapes {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl SimpleBackend for ShapeRecorder {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _init: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name.to_string(), shape.dims().to_vec()));
        // One zero, broadcast: no memory however large the tensor.
        Tensor::zeros((), dtype, device)?.broadcast_as(shape)
    }

    fn get_unchecked(&self, name: &str, _dtype: DType, _device: &Device) -> Result<Tensor> {
        bail!("{name}: the shape recorder needs to be told the shape")
    }

    fn contains_tensor(&self, _name: &str) -> bool {
        true
    }
}

/// Batch norm with PyTorch's affine parameters and running averages.
pub(super) fn bn_config(eps: f64, momentum: f64) -> BatchNormConfig {
    BatchNormConfig {
        eps,
        remove_mean: true,
        affine: true,
        momentum,
    }
}

/// Appends a batch norm's four tensors under `{prefix}.`, as `candle_nn::batch_norm` read them.
pub(super) fn push_batch_norm(bn: &BatchNorm, prefix: &str, out: &mut Vec<(String, Tensor)>) {
    if let Some((gamma, beta)) = bn.weight_and_bias() {
        out.push((format!("{prefix}.weight"), gamma.clone()));
        out.push((format!("{prefix}.bias"), beta.clone()));
    }
    out.push((format!("{prefix}.running_mean"), bn.running_mean().clone()));
    out.push((format!("{prefix}.running_var"), bn.running_var().clone()));
}

#[cfg(test)]
pub(super) mod test_util;

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use crate::model::efficientnet::{BVariant, ConvPadding, EfficientNetConfig};
    use crate::model::resnet::ResNetConfig;

    #[test]
    fn kinds_parse_and_describe_themselves() {
        for kind in BackboneKind::ALL {
            assert_eq!(BackboneKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(kind.to_string().parse::<BackboneKind>().unwrap(), kind);
        }
        assert_eq!(BackboneKind::parse("lite0").unwrap(), BackboneKind::Lite0);
        assert_eq!(BackboneKind::parse("lite1").unwrap(), BackboneKind::Lite1);
        assert_eq!(BackboneKind::parse(" Lite2").unwrap(), BackboneKind::Lite2);
        assert_eq!(
            BackboneKind::parse("efficientnet_lite2").unwrap(),
            BackboneKind::Lite2
        );
        assert_eq!(
            BackboneKind::parse("efficientnet-b3").unwrap(),
            BackboneKind::EfficientNetB(3)
        );
        assert_eq!(
            BackboneKind::parse(" EfficientNet_B7 ").unwrap(),
            BackboneKind::EfficientNetB(7)
        );
        assert_eq!(
            BackboneKind::parse("resnet50").unwrap(),
            BackboneKind::ResNet50
        );
        for bad in [
            "resnet18",
            "efficientnet-b8",
            "",
            "efficientnet",
            "lite3",
            "b3",
        ] {
            let message = BackboneKind::parse(bad).unwrap_err().to_string();
            assert!(message.contains("resnet50"), "{message}");
        }

        let dims: Vec<usize> = (0..8)
            .map(|n| BackboneKind::EfficientNetB(n).feature_dim())
            .collect();
        assert_eq!(dims, [1280, 1280, 1408, 1536, 1792, 2048, 2304, 2560]);
        let sides: Vec<u32> = (0..8)
            .map(|n| BackboneKind::EfficientNetB(n).input_px())
            .collect();
        assert_eq!(sides, [224, 240, 260, 300, 380, 456, 528, 600]);
        assert_eq!(BackboneKind::ResNet50.feature_dim(), 2048);
        assert_eq!(BackboneKind::Lite0.feature_dim(), 1280);
        assert_eq!(BackboneKind::Lite0.preprocess(), Preprocess::LITE0);
        for (kind, side) in [(BackboneKind::Lite1, 240), (BackboneKind::Lite2, 260)] {
            assert_eq!(kind.feature_dim(), 1280);
            assert_eq!(kind.input_px(), side);
            assert_eq!(kind.preprocess(), Preprocess::lite(side));
            assert_eq!(
                kind.preprocess().normalization,
                Preprocess::LITE0.normalization
            );
            let config = kind.lite_config().unwrap();
            assert_eq!(config.image_size, side as usize);
            assert_eq!(config.head_out(), kind.feature_dim());
        }
        assert_eq!(
            BackboneKind::ResNet50.preprocess(),
            Preprocess::imagenet(224)
        );
        assert_eq!(
            BackboneKind::EfficientNetB(5).preprocess(),
            Preprocess::imagenet(456)
        );
    }

    #[test]
    fn configs_agree_with_the_kind_table() {
        for n in 0..8u8 {
            let kind = BackboneKind::EfficientNetB(n);
            for config in [EfficientNetConfig::b(n), EfficientNetConfig::tf_b(n)] {
                let config = config.unwrap();
                assert_eq!(config.feature_dim(), kind.feature_dim(), "B{n}");
                assert_eq!(config.net.image_size, kind.input_px() as usize, "B{n}");
            }
        }
        assert!(EfficientNetConfig::b(8).is_none());
        // timm's get_padding: ((stride − 1) + (kernel − 1)) / 2 per side.
        for (kernel, stride, pad) in [(3, 1, 1), (3, 2, 1), (5, 1, 2), (5, 2, 2)] {
            let p = ConvPadding::Symmetric.for_input(64, 64, kernel, stride);
            assert_eq!((p.top, p.bottom, p.left, p.right), (pad, pad, pad, pad));
        }
        assert_eq!(
            ResNetConfig::resnet50().feature_dim(),
            BackboneKind::ResNet50.feature_dim()
        );
        assert_eq!(
            expected_weights(BackboneKind::Lite0)
                .unwrap()
                .last()
                .unwrap(),
            &("_fc.bias".to_string(), vec![1000])
        );
    }

    #[test]
    fn weights_read_are_timm_state_dicts() {
        // Parameter counts as torchvision documents them (same architectures as timm's).
        let resnet = timm_resnet50();
        assert_eq!(parameter_count(&resnet), 25_557_032);
        assert_eq!(
            sorted(expected_weights(BackboneKind::ResNet50).unwrap()),
            read_by_backbone(&resnet, "fc.")
        );
        for (n, count) in [(0u8, 5_288_548), (3, 12_233_232), (7, 66_347_960)] {
            let v = BVariant::get(n);
            let timm = timm_efficientnet(v.width, v.depth);
            assert_eq!(parameter_count(&timm), count, "B{n}");
            let ours = expected_weights(BackboneKind::EfficientNetB(n)).unwrap();
            assert_eq!(sorted(ours), read_by_backbone(&timm, "classifier."), "B{n}");
        }
    }

    #[test]
    fn a_wrong_file_names_the_tensor_and_the_shape_expected() {
        let dev = Device::Cpu;
        let dir = tempfile::tempdir().unwrap();
        let zeros = |shapes: &Shapes, skip: &str, reshape: Option<(&str, &[usize])>| {
            shapes
                .iter()
                .filter(|(name, _)| name != skip)
                .map(|(name, shape)| {
                    let shape = match reshape {
                        Some((target, new_shape)) if target == name => new_shape,
                        _ => shape.as_slice(),
                    };
                    let t = Tensor::zeros(shape, DType::F16, &dev).unwrap();
                    (name.clone(), t)
                })
                .collect::<HashMap<_, _>>()
        };

        // A missing tensor.
        let path = dir.path().join("resnet50.safetensors");
        save(
            &zeros(&timm_resnet50(), "layer4.2.conv3.weight", None),
            &path,
        );
        let message = load_backbone(BackboneKind::ResNet50, &path, &dev)
            .unwrap_err()
            .to_string();
        assert!(message.contains("resnet50.safetensors"), "{message}");
        assert!(
            message.contains("layer4.2.conv3.weight [2048, 512, 1, 1] is missing"),
            "{message}"
        );
        assert!(
            message.contains("(is this a timm ResNet50 checkpoint?)"),
            "{message}"
        );

        // A tensor of the wrong shape.
        let path = dir.path().join("b0.safetensors");
        let wrong = Some(("conv_head.weight", &[1280, 321, 1, 1][..]));
        save(&zeros(&timm_efficientnet(1.0, 1.0), "", wrong), &path);
        let kind = BackboneKind::EfficientNetB(0);
        let message = load_backbone(kind, &path, &dev).unwrap_err().to_string();
        assert!(
            message.contains("conv_head.weight is [1280, 321, 1, 1], expected [1280, 320, 1, 1]"),
            "{message}"
        );
        assert!(message.contains("timm efficientnet_b0"), "{message}");

        // Another network's file: the first few tensors are named, the rest counted.
        let path = dir.path().join("other.safetensors");
        let other = HashMap::from([("x".to_string(), Tensor::zeros(1, DType::F32, &dev).unwrap())]);
        save(&other, &path);
        let message = load_backbone(BackboneKind::EfficientNetB(3), &path, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("conv_stem.weight [40, 3, 3, 3] is missing"),
            "{message}"
        );
        assert!(message.contains("more"), "{message}");

        // No file at all; not a safetensors file.
        let missing = dir.path().join("nowhere.safetensors");
        let message = load_backbone(BackboneKind::ResNet50, &missing, &dev)
            .unwrap_err()
            .to_string();
        assert!(message.contains("nowhere.safetensors"), "{message}");
        let junk = dir.path().join("junk.safetensors");
        std::fs::write(&junk, b"not a tensor file").unwrap();
        let message = load_backbone(BackboneKind::ResNet50, &junk, &dev)
            .unwrap_err()
            .to_string();
        assert!(message.contains("junk.safetensors"), "{message}");

        // A B variant that does not exist.
        let error = load_backbone(BackboneKind::EfficientNetB(9), &path, &dev).unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error}");
    }

    #[test]
    fn lite1_and_lite2_are_backbones_from_their_shipped_weights() {
        let dev = Device::Cpu;
        for kind in [BackboneKind::Lite1, BackboneKind::Lite2] {
            let file = kind.shipped_weights_file().unwrap();
            let path = crate::model::system::find_weights(file).unwrap();
            let backbone = load_backbone(kind, &path, &dev).unwrap();
            assert_eq!(backbone.kind(), kind);
            assert_eq!(backbone.split_blocks(), Some(21));
            let x = Tensor::zeros((1, 3, 64, 64), DType::F32, &dev).unwrap();
            assert_eq!(backbone.pooled_t(&x, false).unwrap().dims(), &[1, 1280]);
        }
        assert_eq!(BackboneKind::ResNet50.shipped_weights_file(), None);
        // Lite2's file is not Lite1's: the first tensor that differs is named.
        let lite2 = crate::model::system::find_weights("efficientnet-lite2.safetensors").unwrap();
        let message = load_backbone(BackboneKind::Lite1, &lite2, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("EfficientNet-Lite1 checkpoint"),
            "{message}"
        );
    }

    #[test]
    fn lite0_is_a_backbone() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0.safetensors");
        if !path.exists() {
            eprintln!("skipped: {} is not there", path.display());
            return;
        }
        let dev = Device::Cpu;
        let backbone = load_backbone(BackboneKind::Lite0, &path, &dev).unwrap();
        assert_eq!(backbone.kind(), BackboneKind::Lite0);
        let x = Tensor::zeros((1, 3, 64, 64), DType::F32, &dev).unwrap();
        assert_eq!(backbone.pooled_t(&x, false).unwrap().dims(), &[1, 1280]);
        // Lite0 weights are not a ResNet.
        let message = load_backbone(BackboneKind::ResNet50, &path, &dev)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("conv1.weight [64, 3, 7, 7] is missing"),
            "{message}"
        );
    }
}
