//! The parallel network: the feature extractor of a trained system (ARCHITECTURE.md §4; paper §III,
//! Fig. 2).
//!
//! ```text
//!            ┌─ backbone (Lite0 …) ─ global average ─ N×1280 ─┐
//! image N×3×H×W                                              concat ─ embedding Linear (512)
//!            └─ shallow branch ───────────────────── N×64 ───┘        │ ReLU
//!                                                                     ├──────────> embed(): L2-normalised
//!                                                                     dropout ─ Linear (L) ─ sigmoid ─> predict()
//! ```
//! The network is trained as a multi-label classifier (the paper's eq. 1–3 live in `train/`);
//! what a search uses is the **embedding**, "the layer before the last (classification)
//! layer" (paper §III), L2-normalised so that a dot product is the cosine similarity.
//!
//! **ReLU on the embedding (our choice; the paper does not say).** Without a non-linearity
//! the embedding and classifier layers compose into one linear map, and the embedding would
//! be a mere linear bottleneck of the concatenated features. With it the head is a small MLP,
//! as in the Keras-style dense layers of the paper's reference [5], and the embedding is
//! non-negative: the same as the `imagenet-lite0` system's pooled ReLU6 features, so cosine
//! scores of trained and built-in systems read alike (0 = unrelated, 1 = identical). The
//! risk, units that never fire, is visible in training metrics; [`EmbeddingActivation::Linear`]
//! switches it off per system (it is part of the saved config).
//!
//! Parameter names (safetensors): `backbone.*` (the backbone's own checkpoint names, e.g.
//! `backbone._conv_stem.weight`), `shallow.conv{1,2}.{weight,bias}`, `embedding.{weight,bias}`,
//! `classifier.{weight,bias}`. A saved network holds every tensor, backbone included, so a
//! system is one self-contained file.

use super::backbone::{Backbone, BackboneKind, build_backbone};
use super::lite0::Lite0Config;
use super::shallow::{ShallowBranch, ShallowConfig};
use super::weights;
use crate::error::{Error, Result as VitrineResult};
use candle_core::{DType, Device, Module, ModuleT, Result, Tensor, Var, bail};
use candle_nn::{Linear, VarBuilder, VarMap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The backbone name of EfficientNet-Lite0 in configs and system files.
pub const LITE0_BACKBONE: &str = "efficientnet-lite0";

/// The activation after the embedding layer (see the module docs for the choice).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingActivation {
    /// `max(0, x)`: the head is a two-layer MLP (the default).
    #[default]
    Relu,
    /// No activation: the embedding is a linear projection of the features.
    Linear,
}

/// The parallel network's architecture; saved in `system.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// The backbone's name ([`LITE0_BACKBONE`], or one `model::backbone` knows).
    pub backbone: String,
    /// The width of the backbone's pooled features (1280 for Lite0).
    pub backbone_dim: usize,
    /// The shallow branch, or `None` for a backbone-only network (the paper's V1 and V4).
    pub shallow: Option<ShallowConfig>,
    /// The width of the embedding layer (the search vector).
    pub embedding_dim: usize,
    #[serde(default)]
    pub embedding_activation: EmbeddingActivation,
    /// Dropout between the embedding and the classifier, in training.
    pub dropout: f32,
    /// The number of labels the classifier predicts.
    pub label_count: usize,
    /// How the logits become probabilities. (Skipped in `system.json` when it is the
    /// paper's multi-label head, so systems saved before it existed keep their fingerprint.)
    #[serde(default, skip_serializing_if = "Classifier::is_multi_label")]
    pub classifier: Classifier,
}

/// How the classifier's logits become label probabilities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Classifier {
    /// Independent sigmoids: any number of labels per item (the paper's multi-label head,
    /// trained with eq. 1–3).
    #[default]
    MultiLabel,
    /// A softmax: exactly one label per item (a catalogue of categories), trained with
    /// cross-entropy.
    SingleLabel,
}

impl Classifier {
    pub fn is_multi_label(&self) -> bool {
        *self == Classifier::MultiLabel
    }

    /// Label probabilities from logits, `N × L`.
    pub fn probabilities(&self, logits: &Tensor) -> Result<Tensor> {
        match self {
            Classifier::MultiLabel => candle_nn::ops::sigmoid(logits),
            Classifier::SingleLabel => candle_nn::ops::softmax(logits, candle_core::D::Minus1),
        }
    }
}

impl NetworkConfig {
    /// Lite0 + the default shallow branch → 512 → `label_count` labels, dropout 0.3.
    pub fn lite0(label_count: usize) -> Self {
        Self {
            backbone: LITE0_BACKBONE.into(),
            backbone_dim: Lite0Config::lite0().head_out(),
            shallow: Some(ShallowConfig::small()),
            embedding_dim: 512,
            embedding_activation: EmbeddingActivation::Relu,
            dropout: 0.3,
            label_count,
            classifier: Classifier::MultiLabel,
        }
    }

    /// The width of the shallow branch's output (the colour part of an index), 0 without it.
    pub fn colour_dim(&self) -> usize {
        self.shallow.as_ref().map_or(0, ShallowConfig::output_dim)
    }

    /// The width of the concatenated features the embedding layer reads.
    pub fn concat_dim(&self) -> usize {
        self.backbone_dim + self.shallow.as_ref().map_or(0, ShallowConfig::output_dim)
    }
}

/// One pass through the network.
#[derive(Debug, Clone)]
pub struct NetworkOutput {
    /// The embedding layer's activations, `N × embedding_dim`, before L2 normalisation.
    pub embedding: Tensor,
    /// The classifier's logits, `N × label_count` (sigmoid gives the probabilities).
    pub logits: Tensor,
    /// The shallow branch's output, `N × 64`, before normalisation (`None` without the
    /// branch): the colour part of an index, from the same pass (a view, no copy).
    pub colour: Option<Tensor>,
}

/// `[backbone pooled ‖ shallow] → embedding → dropout → classifier`; see the module docs.
#[derive(Debug)]
pub struct ParallelNetwork {
    backbone: Box<dyn Backbone>,
    shallow: Option<ShallowBranch>,
    embedding: Linear,
    classifier: Linear,
    config: NetworkConfig,
}

impl ParallelNetwork {
    /// Builds the network from `vb`, the backbone named by `config.backbone` (any
    /// [`BackboneKind`]) under `backbone.`.
    pub fn new(vb: VarBuilder, config: &NetworkConfig) -> Result<Self> {
        let kind = BackboneKind::parse(&config.backbone)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let backbone = build_backbone(kind, vb.pp("backbone"))?;
        Self::with_backbone(backbone, vb, config)
    }

    /// Builds the shallow branch and the head from `vb` around an already built backbone.
    pub fn with_backbone(
        backbone: Box<dyn Backbone>,
        vb: VarBuilder,
        config: &NetworkConfig,
    ) -> Result<Self> {
        if backbone.feature_dim() != config.backbone_dim {
            bail!(
                "the backbone gives {} features, the config says {}",
                backbone.feature_dim(),
                config.backbone_dim
            )
        }
        if config.embedding_dim == 0 || config.label_count == 0 {
            bail!("the embedding and the label set need at least one unit each")
        }
        if !(0.0..1.0).contains(&config.dropout) {
            bail!("dropout must be in 0..1, not {}", config.dropout)
        }
        let shallow = match &config.shallow {
            Some(cfg) => Some(ShallowBranch::new(vb.pp("shallow"), cfg)?),
            None => None,
        };
        let embedding = candle_nn::linear(
            config.concat_dim(),
            config.embedding_dim,
            vb.pp("embedding"),
        )?;
        let classifier = candle_nn::linear(
            config.embedding_dim,
            config.label_count,
            vb.pp("classifier"),
        )?;
        Ok(Self {
            backbone,
            shallow,
            embedding,
            classifier,
            config: config.clone(),
        })
    }

    /// A new network to train: the backbone's pretrained weights from `backbone_weights`
    /// (a safetensors file in the backbone's checkpoint names) copied into `varmap` under
    /// `backbone.`, the shallow branch and head freshly initialised there.
    pub fn fresh(
        varmap: &VarMap,
        config: &NetworkConfig,
        backbone_weights: &Path,
        device: &Device,
    ) -> VitrineResult<Self> {
        let data = std::fs::read(backbone_weights).map_err(|e| Error::io(backbone_weights, e))?;
        let tensors = candle_core::safetensors::load_buffer(&data, device).map_err(|e| {
            Error::file(
                backbone_weights,
                format!("not a readable safetensors file: {e}"),
            )
        })?;
        {
            let mut vars = varmap
                .data()
                .lock()
                .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
            for (name, tensor) in tensors {
                // Integer buffers (BatchNorm's `num_batches_tracked`) are not parameters.
                if tensor.dtype() == DType::F32 {
                    vars.insert(format!("backbone.{name}"), Var::from_tensor(&tensor)?);
                }
            }
        }
        let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
        Self::new(vb, config).map_err(|e| {
            Error::file(
                backbone_weights,
                format!("does not fit the {} backbone: {e}", config.backbone),
            )
        })
    }

    /// Loads a network saved by [`ParallelNetwork::save`]; errors name the file.
    pub fn load(path: &Path, config: &NetworkConfig, device: &Device) -> VitrineResult<Self> {
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_safetensors_bytes(&data, path, config, device)
    }

    /// [`ParallelNetwork::load`] on the file's bytes, already read (`path` names it in errors).
    pub fn from_safetensors_bytes(
        data: &[u8],
        path: &Path,
        config: &NetworkConfig,
        device: &Device,
    ) -> VitrineResult<Self> {
        let tensors = candle_core::safetensors::load_buffer(data, device)
            .map_err(|e| Error::file(path, format!("not a readable safetensors file: {e}")))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Self::new(vb, config)
            .map_err(|e| Error::file(path, format!("does not fit the network's config: {e}")))
    }

    /// Writes every tensor (backbone included) as safetensors, atomically, with `metadata`
    /// in the header; returns the file's sha256.
    pub fn save(&self, path: &Path, metadata: &BTreeMap<String, String>) -> VitrineResult<String> {
        weights::write_safetensors(&self.named_tensors(), metadata, path)
    }

    /// Every tensor under its saved name (see the module docs).
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = self
            .backbone
            .named_tensors()
            .into_iter()
            .map(|(name, t)| (format!("backbone.{name}"), t))
            .collect();
        if let Some(shallow) = &self.shallow {
            out.extend(shallow.named_tensors("shallow."));
        }
        for (prefix, linear) in [
            ("embedding", &self.embedding),
            ("classifier", &self.classifier),
        ] {
            out.push((format!("{prefix}.weight"), linear.weight().clone()));
            if let Some(bias) = linear.bias() {
                out.push((format!("{prefix}.bias"), bias.clone()));
            }
        }
        out
    }

    /// The architecture.
    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The width of [`ParallelNetwork::embed`]'s rows.
    pub fn embedding_dim(&self) -> usize {
        self.config.embedding_dim
    }

    /// The number of labels [`ParallelNetwork::predict`] scores.
    pub fn label_count(&self) -> usize {
        self.config.label_count
    }

    /// The backbone, e.g. to cache its pooled features for head-only training.
    pub fn backbone(&self) -> &dyn Backbone {
        self.backbone.as_ref()
    }

    /// The whole network on a normalised `N×3×H×W` batch; `train` uses batch statistics
    /// and dropout.
    pub fn outputs_t(&self, x: &Tensor, train: bool) -> Result<NetworkOutput> {
        let pooled = self.backbone.pooled_t(x, train)?;
        self.outputs_from_pooled_t(&pooled, x, train)
    }

    /// The network from the backbone's pooled features on (cached, for head-only training)
    /// and the images themselves (for the shallow branch).
    pub fn outputs_from_pooled_t(
        &self,
        pooled: &Tensor,
        x: &Tensor,
        train: bool,
    ) -> Result<NetworkOutput> {
        let features = self.concat_features(pooled, x)?;
        self.outputs_from_concat_t(&features, train)
    }

    /// `[pooled ‖ shallow(x)]`, `N × concat_dim`: what the embedding layer reads (cached
    /// whole when the backbone and the shallow branch are both frozen).
    pub fn concat_features(&self, pooled: &Tensor, x: &Tensor) -> Result<Tensor> {
        match &self.shallow {
            Some(shallow) => {
                let shallow = shallow.forward(x)?;
                Tensor::cat(&[pooled, &shallow], 1)
            }
            None => Ok(pooled.clone()),
        }
    }

    /// What the shallow branch reads of a normalised batch (its low-resolution input, cached
    /// in training), or `None` for a network without the branch.
    pub fn shallow_input(&self, x: &Tensor) -> Result<Option<Tensor>> {
        match &self.shallow {
            Some(shallow) => Ok(Some(shallow.input(x)?)),
            None => Ok(None),
        }
    }

    /// The network from the backbone's pooled features and the shallow branch's input, both
    /// as training caches them: the shallow branch and the head run (and train).
    pub fn outputs_from_parts_t(
        &self,
        pooled: &Tensor,
        shallow_input: Option<&Tensor>,
        train: bool,
    ) -> Result<NetworkOutput> {
        let features = match (&self.shallow, shallow_input) {
            (Some(shallow), Some(small)) => {
                Tensor::cat(&[pooled, &shallow.forward_input(small)?], 1)?
            }
            (None, _) => pooled.clone(),
            (Some(_), None) => bail!("the network's shallow branch needs its input"),
        };
        self.outputs_from_concat_t(&features, train)
    }

    /// The head alone, from [`ParallelNetwork::concat_features`].
    pub fn outputs_from_concat_t(&self, features: &Tensor, train: bool) -> Result<NetworkOutput> {
        let embedding = self.embedding.forward(features)?;
        let embedding = match self.config.embedding_activation {
            EmbeddingActivation::Relu => embedding.relu()?,
            EmbeddingActivation::Linear => embedding,
        };
        let dropped = if train && self.config.dropout > 0.0 {
            candle_nn::ops::dropout(&embedding, self.config.dropout)?
        } else {
            embedding.clone()
        };
        let logits = self.classifier.forward(&dropped)?;
        let backbone_dim = self.config.backbone_dim;
        let colour = match &self.shallow {
            Some(_) => Some(features.narrow(1, backbone_dim, features.dim(1)? - backbone_dim)?),
            None => None,
        };
        Ok(NetworkOutput {
            embedding,
            logits,
            colour,
        })
    }

    /// [`ParallelNetwork::outputs_t`] in inference, with the backbone's last feature map
    /// (`N × backbone_dim × h × w`) from the same pass, for `crate::explain`.
    pub fn outputs_with_features(&self, x: &Tensor) -> Result<(NetworkOutput, Tensor)> {
        let (map, pooled) = self.backbone.features_and_pooled(x)?;
        Ok((self.outputs_from_pooled_t(&pooled, x, false)?, map))
    }

    /// The search vectors: the embedding layer, L2-normalised, `N × embedding_dim`.
    pub fn embed(&self, x: &Tensor) -> Result<Tensor> {
        l2_normalize(&self.outputs_t(x, false)?.embedding)
    }

    /// Label probabilities in 0..1, `N × label_count` (inference).
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_t(x, false)
    }
}

impl ModuleT for ParallelNetwork {
    /// Label probabilities (see [`Classifier`]), `N × label_count`.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.config
            .classifier
            .probabilities(&self.outputs_t(x, train)?.logits)
    }
}

/// Rows scaled to unit length (a zero row stays zero): cosine similarity becomes a dot product.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norms = x.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-12)?;
    x.broadcast_div(&norms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_util::max_abs_diff;

    fn shipped_lite0() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/efficientnet-lite0.safetensors")
    }

    fn network(config: &NetworkConfig) -> (VarMap, ParallelNetwork) {
        let varmap = VarMap::new();
        let net = ParallelNetwork::fresh(&varmap, config, &shipped_lite0(), &Device::Cpu).unwrap();
        (varmap, net)
    }

    fn images(n: usize) -> Tensor {
        Tensor::rand(-1f32, 1.0, (n, 3, 64, 64), &Device::Cpu).unwrap()
    }

    #[test]
    fn shapes_unit_embeddings_and_probabilities() {
        let config = NetworkConfig::lite0(7);
        assert_eq!(config.concat_dim(), 1280 + 64);
        let (_, net) = network(&config);
        let x = images(3);
        let out = net.outputs_t(&x, false).unwrap();
        assert_eq!(out.embedding.dims(), [3, 512]);
        assert_eq!(out.logits.dims(), [3, 7]);
        let embedded = net.embed(&x).unwrap();
        assert_eq!(embedded.dims(), [3, 512]);
        for row in embedded.to_vec2::<f32>().unwrap() {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
            assert!(row.iter().all(|&v| v >= 0.0), "ReLU embedding");
        }
        let p = net.predict(&x).unwrap();
        assert_eq!(p.dims(), [3, 7]);
        for v in p.flatten_all().unwrap().to_vec1::<f32>().unwrap() {
            assert!(v > 0.0 && v < 1.0, "{v}");
        }
        // A training pass differs (dropout) but has the same shapes.
        let train = net.forward_t(&x, true).unwrap();
        assert_eq!(train.dims(), [3, 7]);
    }

    #[test]
    fn save_then_load_gives_the_same_outputs() {
        let config = NetworkConfig {
            embedding_dim: 32,
            embedding_activation: EmbeddingActivation::Linear,
            ..NetworkConfig::lite0(5)
        };
        let (varmap, net) = network(&config);
        // Every variable the network was built from is saved, and nothing else.
        assert_eq!(net.named_tensors().len(), varmap.all_vars().len());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        let meta = BTreeMap::from([("system".to_string(), "test".to_string())]);
        let sha = net.save(&path, &meta).unwrap();
        assert_eq!(sha.len(), 64);
        let loaded = ParallelNetwork::load(&path, &config, &Device::Cpu).unwrap();
        let x = images(2);
        assert_eq!(
            max_abs_diff(&net.embed(&x).unwrap(), &loaded.embed(&x).unwrap()),
            0.0
        );
        assert_eq!(
            max_abs_diff(&net.predict(&x).unwrap(), &loaded.predict(&x).unwrap()),
            0.0
        );
        // A config that does not match the file is refused, naming it.
        let other = NetworkConfig {
            embedding_dim: 64,
            ..config.clone()
        };
        let err = ParallelNetwork::load(&path, &other, &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("model.safetensors"), "{err}");
    }

    #[test]
    fn a_backbone_only_network_has_no_shallow_tensors() {
        let config = NetworkConfig {
            shallow: None,
            embedding_dim: 16,
            ..NetworkConfig::lite0(3)
        };
        assert_eq!(config.concat_dim(), 1280);
        let (_, net) = network(&config);
        assert!(
            net.named_tensors()
                .iter()
                .all(|(n, _)| !n.starts_with("shallow."))
        );
        assert_eq!(net.embed(&images(1)).unwrap().dims(), [1, 16]);
    }

    #[test]
    fn the_config_round_trips_through_json() {
        let config = NetworkConfig::lite0(1102);
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"embedding_activation\":\"relu\""), "{json}");
        let back: NetworkConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn bad_configs_are_refused() {
        let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
        let unknown = NetworkConfig {
            backbone: "resnet50".into(),
            ..NetworkConfig::lite0(3)
        };
        assert!(ParallelNetwork::new(vb.clone(), &unknown).is_err());
        let no_labels = NetworkConfig::lite0(0);
        assert!(ParallelNetwork::new(vb, &no_labels).is_err());
    }

    #[test]
    fn l2_normalize_leaves_zero_rows_at_zero() {
        let x = Tensor::new(&[[3f32, 4.0], [0.0, 0.0]], &Device::Cpu).unwrap();
        let v = l2_normalize(&x).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(v, [[0.6, 0.8], [0.0, 0.0]]);
    }
}
