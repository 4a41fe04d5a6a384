//! Systems: a named, frozen model with its preprocessing and label vocabulary (ARCHITECTURE.md §4).
//! Searches, indexes, studies and sheets always name the system they used, so results from
//! two models are never mixed.
//!
//! * **`imagenet-lite0`** is always there: the pretrained EfficientNet-Lite0's pooled
//!   features (1280-d, L2-normalised) as the embedding, and the ImageNet classes (softmax of
//!   its logits) as the predicted labels. Its weights ship with Vitrine and are found by
//!   [`find_weights`].
//! * **Trained systems** live in `DIR/systems/<name>/` as `model.safetensors` (every tensor
//!   of a [`ParallelNetwork`]) and `system.json` ([`SystemFile`]: backbone, input, network
//!   config, labels, metrics), and as a row of the `systems` table for listing.
//!
//! Every system has a [`System::fingerprint`]: the sha256 of its weight file and of the
//! config that decides its embeddings. An index stores the fingerprint it was built with, so
//! an index made by another version of a system is detected and rebuilt, never searched.
//!
//! [`device`] turns the CLI's `--device cpu|cuda[:N]` into a Candle device. Lite0's fused
//! kernels are CPU-only; on CUDA the models run on Candle's own operations ([`kernels_for`]).

use super::backbone::BackboneKind;
use super::lite0::{Kernels, Lite0, Lite0Config};
use super::network::{LITE0_BACKBONE, NetworkConfig, NetworkOutput, ParallelNetwork, l2_normalize};
use super::weights::sha256_hex;
use crate::error::{Error, Result};
use crate::library::Library;
use crate::vision::preprocess::{Normalization, Preprocess, WHITE};
use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The name of the built-in system.
pub const IMAGENET_LITE0: &str = "imagenet-lite0";
/// The shipped ImageNet weights of EfficientNet-Lite0.
pub const LITE0_WEIGHTS_FILE: &str = "efficientnet-lite0.safetensors";
/// An environment variable naming a folder to look for shipped weights in first.
pub const WEIGHTS_DIR_ENV: &str = "VITRINE_WEIGHTS_DIR";
/// The version of `system.json` this program writes and reads.
pub const SYSTEM_FILE_FORMAT: u32 = 1;

/// The Lite0 implementation for `device`: the fused kernels on the CPU, Candle's operations
/// elsewhere (the fused kernels are CPU-only).
pub fn kernels_for(device: &Device) -> Kernels {
    if device.is_cpu() {
        Kernels::Fused
    } else {
        Kernels::Candle
    }
}

/// Where shipped weights are looked for, in order: `$VITRINE_WEIGHTS_DIR`; beside the
/// installed executable (`<prefix>/share/vitrine/weights`, as the .deb installs
/// `/usr/bin/vitrine` with `/usr/share/vitrine/weights/`, and `<exe dir>/weights` for an
/// unpacked folder); `/usr/share/vitrine/weights`; and the source tree's `weights/` (builds
/// run from a checkout).
pub fn weights_search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os(WEIGHTS_DIR_ENV).filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(bin) = exe.parent() {
            if let Some(prefix) = bin.parent() {
                dirs.push(prefix.join("share/vitrine/weights"));
            }
            dirs.push(bin.join("weights"));
        }
    }
    if cfg!(unix) {
        dirs.push(PathBuf::from("/usr/share/vitrine/weights"));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("weights"));
    let mut unique: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if !unique.contains(&dir) {
            unique.push(dir);
        }
    }
    unique
}

/// The path of the shipped weights file `file`, from [`weights_search_dirs`].
pub fn find_weights(file: &str) -> Result<PathBuf> {
    find_weights_in(file, &weights_search_dirs())
}

/// The first `dir/file` that is a file; the error lists every place looked in.
pub fn find_weights_in(file: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
    if let Some(found) = dirs.iter().map(|d| d.join(file)).find(|p| p.is_file()) {
        return Ok(found);
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::Invalid(format!(
        "cannot find the weights file {file}; looked in {}. Set {WEIGHTS_DIR_ENV} to the folder \
         that holds it",
        looked.join(", ")
    )))
}

/// A system as `vitrine systems` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    pub name: String,
    pub backbone: String,
    pub embedding_dim: usize,
    pub label_count: usize,
    /// Shipped with Vitrine (not trained in this library).
    pub builtin: bool,
    /// The width of the colour part of its index (the shallow branch's output): 0 when it
    /// has no shallow branch, and the colour ↔ shape dial of a search is then unavailable.
    pub colour_dim: usize,
}

/// How a system's images are scaled before the model (a serialisable [`Preprocess`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Side of the square input, in pixels.
    pub side_px: u32,
    pub normalization: NormalizationName,
}

/// [`Normalization`] by name in `system.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormalizationName {
    /// `(rgb − 127) / 128`.
    Lite0,
    /// ImageNet mean and standard deviation.
    Imagenet,
}

impl InputSpec {
    /// The preprocessing recipe (white letterbox padding, as for every shop photo).
    pub fn preprocess(&self) -> Preprocess {
        Preprocess {
            side_px: self.side_px,
            normalization: match self.normalization {
                NormalizationName::Lite0 => Normalization::Lite0,
                NormalizationName::Imagenet => Normalization::ImageNet,
            },
            fill: WHITE,
        }
    }

    /// The spec of a preprocessing recipe.
    pub fn of(preprocess: &Preprocess) -> InputSpec {
        InputSpec {
            side_px: preprocess.side_px,
            normalization: match preprocess.normalization {
                Normalization::Lite0 => NormalizationName::Lite0,
                Normalization::ImageNet => NormalizationName::Imagenet,
            },
        }
    }
}

/// `DIR/systems/<name>/system.json`: everything about a trained system but its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemFile {
    /// [`SYSTEM_FILE_FORMAT`].
    pub format: u32,
    pub name: String,
    pub input: InputSpec,
    pub network: NetworkConfig,
    /// The label vocabulary, in the classifier's output order (`group:name`).
    pub labels: Vec<String>,
    /// Validation metrics from training (IoU, precision, recall …); free-form.
    #[serde(default)]
    pub metrics: serde_json::Value,
}

impl SystemFile {
    /// Reads `system.json` in the system folder `dir`.
    pub fn read(dir: &Path) -> Result<SystemFile> {
        let json_path = dir.join("system.json");
        let json = std::fs::read(&json_path).map_err(|e| Error::io(&json_path, e))?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::file(&json_path, format!("not a system description: {e}")))
    }
}

/// The model behind a system.
#[derive(Debug)]
enum SystemModel {
    /// Pretrained Lite0: pooled features and ImageNet logits.
    ImageNet(Lite0),
    /// A trained parallel network.
    Trained(ParallelNetwork),
}

/// A loaded system, ready to embed on its device.
#[derive(Debug)]
pub struct System {
    info: SystemInfo,
    preprocess: Preprocess,
    labels: Vec<String>,
    fingerprint: String,
    device: Device,
    model: SystemModel,
    /// The files a trained system was read from, as they were (none for the built-in one).
    source: Option<SourceStamp>,
}

/// A trained system's two files with what identifies each version of them: size,
/// modification time and (on Unix) inode. Saving writes a new file and renames it over the
/// old one, so a save always gives a new inode. Cheap to take (two `stat` calls), unlike the
/// fingerprint, which reads the whole weight file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceStamp {
    dir: PathBuf,
    /// `system.json`'s and `model.safetensors`' versions (`None`: missing).
    files: [Option<FileVersion>; 2],
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileVersion {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl SourceStamp {
    fn of(dir: &Path) -> SourceStamp {
        let version = |name: &str| {
            let meta = std::fs::metadata(dir.join(name)).ok()?;
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&meta);
            #[cfg(not(unix))]
            let inode = 0;
            Some(FileVersion {
                len: meta.len(),
                modified: meta.modified().ok(),
                inode,
            })
        };
        SourceStamp {
            dir: dir.to_path_buf(),
            files: [version("system.json"), version("model.safetensors")],
        }
    }
}

/// The folder of the trained system `name` in the library at `root`.
pub fn system_dir(root: &Path, name: &str) -> PathBuf {
    root.join("systems").join(name)
}

/// Whether `name` can name a system (and a folder and an index file): 1–64 characters of
/// `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn is_valid_system_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

impl System {
    /// The built-in system's listing (no weights are read).
    pub fn imagenet_lite0_info() -> SystemInfo {
        SystemInfo {
            name: IMAGENET_LITE0.into(),
            backbone: LITE0_BACKBONE.into(),
            embedding_dim: Lite0Config::lite0().head_out(),
            label_count: Lite0Config::lite0().num_classes,
            builtin: true,
            colour_dim: 0,
        }
    }

    /// The built-in system and then every trained one, by name.
    pub fn list(lib: &Library) -> Result<Vec<SystemInfo>> {
        let mut systems = vec![Self::imagenet_lite0_info()];
        for row in lib.store.systems()? {
            // The store does not keep the shallow branch; its description does (a system
            // whose description cannot be read cannot load either: no dial).
            let colour_dim = SystemFile::read(&system_dir(lib.root(), &row.name))
                .map_or(0, |file| file.network.colour_dim());
            systems.push(SystemInfo {
                name: row.name,
                backbone: row.backbone,
                embedding_dim: row.embedding_dim as usize,
                label_count: row.label_count as usize,
                builtin: false,
                colour_dim,
            });
        }
        Ok(systems)
    }

    /// Loads the system called `name` onto `device`.
    pub fn load(lib: &Library, name: &str, device: &Device) -> Result<System> {
        if name == IMAGENET_LITE0 {
            return Self::imagenet_lite0(device);
        }
        // A name becomes a folder: refused before any path is made from it.
        if !is_valid_system_name(name) {
            return Err(Error::Invalid(format!(
                "{name:?} is not a system name (1–64 characters of a-z, 0-9, '.', '_' and '-')"
            )));
        }
        if lib.store.system(name)?.is_none() {
            let known: Vec<String> = Self::list(lib)?.into_iter().map(|s| s.name).collect();
            return Err(Error::Invalid(format!(
                "there is no system called {name:?} in this library (known: {})",
                known.join(", ")
            )));
        }
        Self::load_trained(&system_dir(lib.root(), name), device)
    }

    /// The built-in `imagenet-lite0` from the shipped weights ([`find_weights`]).
    pub fn imagenet_lite0(device: &Device) -> Result<System> {
        Self::imagenet_lite0_from(&find_weights(LITE0_WEIGHTS_FILE)?, device)
    }

    /// The built-in `imagenet-lite0` from a given Lite0 weights file.
    pub fn imagenet_lite0_from(path: &Path, device: &Device) -> Result<System> {
        Self::imagenet_lite_from(BackboneKind::Lite0, path, device)
    }

    /// An ImageNet system like `imagenet-lite0` on another Lite backbone from its shipped
    /// weights (`imagenet-lite1`, `imagenet-lite2`, at their native sides): what `vitrine
    /// bench embed --backbone` times. Not a library system: only Lite0 is built in.
    pub fn imagenet_lite(kind: BackboneKind, device: &Device) -> Result<System> {
        let file = kind.shipped_weights_file().ok_or_else(|| {
            Error::Invalid(format!(
                "{} has no shipped ImageNet weights (only the Lite backbones do)",
                kind.as_str()
            ))
        })?;
        Self::imagenet_lite_from(kind, &find_weights(file)?, device)
    }

    /// An ImageNet system on the Lite backbone `kind` from the weights file at `path`.
    fn imagenet_lite_from(kind: BackboneKind, path: &Path, device: &Device) -> Result<System> {
        let lite = kind.lite_config().ok_or_else(|| {
            Error::Invalid(format!(
                "{} is not an EfficientNet-Lite backbone",
                kind.as_str()
            ))
        })?;
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let tensors = candle_core::safetensors::load_buffer(&data, device)
            .map_err(|e| Error::file(path, format!("not a readable safetensors file: {e}")))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model = Lite0::new(vb, &lite)
            .map_err(|e| {
                Error::file(
                    path,
                    format!("does not hold {}'s weights: {e}", kind.as_str()),
                )
            })?
            .with_kernels(kernels_for(device));
        let info = if kind == BackboneKind::Lite0 {
            Self::imagenet_lite0_info()
        } else {
            SystemInfo {
                name: kind.as_str().replace("efficientnet-", "imagenet-"),
                backbone: kind.as_str().into(),
                embedding_dim: lite.head_out(),
                label_count: lite.num_classes,
                builtin: true,
                colour_dim: 0,
            }
        };
        let preprocess = Preprocess::lite(kind.input_px());
        let config = format!(
            "{}\nembedding: pooled, l2\ninput: {}",
            info.name,
            serde_json::to_string(&InputSpec::of(&preprocess)).unwrap_or_default()
        );
        Ok(System {
            info,
            preprocess,
            labels: super::imagenet_classes()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            fingerprint: fingerprint(&data, &config),
            device: device.clone(),
            model: SystemModel::ImageNet(model),
            source: None,
        })
    }

    /// Loads a trained system from its folder (`model.safetensors` + `system.json`).
    pub fn load_trained(dir: &Path, device: &Device) -> Result<System> {
        // Taken before reading: a save between the two makes the system look changed (and
        // load again), never look current when it is not.
        let source = SourceStamp::of(dir);
        let json_path = dir.join("system.json");
        let file = SystemFile::read(dir)?;
        if file.format != SYSTEM_FILE_FORMAT {
            return Err(Error::file(
                &json_path,
                format!(
                    "system format {} (this program reads {SYSTEM_FILE_FORMAT}); use a newer Vitrine",
                    file.format
                ),
            ));
        }
        if file.labels.len() != file.network.label_count {
            return Err(Error::file(
                &json_path,
                format!(
                    "{} labels for a classifier with {} outputs",
                    file.labels.len(),
                    file.network.label_count
                ),
            ));
        }
        let model_path = dir.join("model.safetensors");
        let data = std::fs::read(&model_path).map_err(|e| Error::io(&model_path, e))?;
        let network =
            ParallelNetwork::from_safetensors_bytes(&data, &model_path, &file.network, device)?;
        Ok(System {
            info: SystemInfo {
                name: file.name.clone(),
                backbone: file.network.backbone.clone(),
                embedding_dim: file.network.embedding_dim,
                label_count: file.network.label_count,
                builtin: false,
                colour_dim: file.network.colour_dim(),
            },
            preprocess: file.input.preprocess(),
            fingerprint: fingerprint(&data, &fingerprint_config(&file)),
            labels: file.labels,
            device: device.clone(),
            model: SystemModel::Trained(network),
            source: Some(source),
        })
    }

    /// Saves a trained network as the system `name` of `lib` (its folder and its row),
    /// replacing one of the same name. The built-in name and names that cannot be a folder
    /// are refused.
    pub fn save_trained(
        lib: &mut Library,
        name: &str,
        network: &ParallelNetwork,
        input: &Preprocess,
        labels: &[String],
        metrics: &serde_json::Value,
    ) -> Result<SystemInfo> {
        if name == IMAGENET_LITE0 || !is_valid_system_name(name) {
            return Err(Error::Invalid(format!(
                "{name:?} cannot name a trained system: use 1–64 characters of a-z, 0-9, '.', \
                 '_' and '-' (not {IMAGENET_LITE0})"
            )));
        }
        let config = network.config();
        if labels.len() != config.label_count {
            return Err(Error::Invalid(format!(
                "{} labels for a classifier with {} outputs",
                labels.len(),
                config.label_count
            )));
        }
        let dir = system_dir(lib.root(), name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let meta = BTreeMap::from([
            ("system".to_string(), name.to_string()),
            ("backbone".to_string(), config.backbone.clone()),
        ]);
        network.save(&dir.join("model.safetensors"), &meta)?;
        let file = SystemFile {
            format: SYSTEM_FILE_FORMAT,
            name: name.to_string(),
            input: InputSpec::of(input),
            network: config.clone(),
            labels: labels.to_vec(),
            metrics: metrics.clone(),
        };
        let json = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Invalid(format!("cannot describe the system: {e}")))?;
        crate::atomic_file::write(&dir.join("system.json"), &json)?;
        lib.store.write(|w| {
            w.upsert_system(
                name,
                &config.backbone,
                config.embedding_dim as u64,
                config.label_count as u64,
                &metrics.to_string(),
            )
        })?;
        Ok(SystemInfo {
            name: name.to_string(),
            backbone: config.backbone.clone(),
            embedding_dim: config.embedding_dim,
            label_count: config.label_count,
            builtin: false,
            colour_dim: config.colour_dim(),
        })
    }

    /// The system's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Name, backbone and sizes.
    pub fn info(&self) -> &SystemInfo {
        &self.info
    }

    /// Whether the files this system was loaded from have changed since: saved again under
    /// its name (a retrained system, from this window or another process) or removed. A
    /// cache that keeps systems by name asks before reusing one. Never for the built-in one.
    pub fn is_saved_again(&self) -> bool {
        self.source
            .as_ref()
            .is_some_and(|source| SourceStamp::of(&source.dir) != *source)
    }

    /// The sha256 (hex) of the weight file and of the config that shapes the embeddings.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// How images are prepared for this system.
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// The label vocabulary, in [`System::predict`]'s column order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The width of an embedding.
    pub fn embedding_dim(&self) -> usize {
        self.info.embedding_dim
    }

    /// The device the model lives on (inputs go there).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// L2-normalised embeddings, `N × embedding_dim`, of a batch prepared with
    /// [`System::preprocess`] (`N×3×side×side` on [`System::device`]).
    pub fn embed(&self, x: &Tensor) -> Result<Tensor> {
        let embedded = match &self.model {
            SystemModel::ImageNet(lite0) => l2_normalize(&lite0.pooled(x)?)?,
            SystemModel::Trained(network) => network.embed(x)?,
        };
        Ok(embedded)
    }

    /// [`System::embed`] and [`System::predict`] from one pass of the backbone: what a query
    /// needs (the ranked items and the labels shown beside them), at the cost of one.
    pub fn embed_and_predict(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (embedded, _, probabilities) = self.embed_parts_and_predict(x)?;
        Ok((embedded, probabilities))
    }

    /// The two parts of a batch's index rows from one pass: the embedding (as
    /// [`System::embed`]) and the colour part, the shallow branch's output L2-normalised
    /// (`None` without the branch), which the colour ↔ shape dial of a search weighs.
    pub fn embed_parts(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        match &self.model {
            SystemModel::ImageNet(lite0) => Ok((l2_normalize(&lite0.pooled(x)?)?, None)),
            SystemModel::Trained(network) => {
                let out = network.outputs_t(x, false)?;
                Ok((l2_normalize(&out.embedding)?, normalised_colour(&out)?))
            }
        }
    }

    /// [`System::embed_parts`] and [`System::predict`] from one pass (a query).
    pub fn embed_parts_and_predict(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>, Tensor)> {
        match &self.model {
            SystemModel::ImageNet(lite0) => {
                let pooled = lite0.pooled(x)?;
                let logits = lite0.logits_from_pooled_t(&pooled, false)?;
                Ok((
                    l2_normalize(&pooled)?,
                    None,
                    candle_nn::ops::softmax(&logits, D::Minus1)?,
                ))
            }
            SystemModel::Trained(network) => {
                let out = network.outputs_t(x, false)?;
                let probabilities = network.config().classifier.probabilities(&out.logits)?;
                Ok((
                    l2_normalize(&out.embedding)?,
                    normalised_colour(&out)?,
                    probabilities,
                ))
            }
        }
    }

    /// [`System::embed_parts_and_predict`] and the backbone's last feature map
    /// (`N × C × h × w`) from the same single pass: what an explained query keeps
    /// (`crate::explain`). The embedding, colour part and probabilities are exactly those of
    /// [`System::embed_parts_and_predict`].
    pub fn embed_predict_and_features(&self, x: &Tensor) -> Result<QueryPass> {
        match &self.model {
            SystemModel::ImageNet(lite0) => {
                let (map, pooled) = lite0.features_and_pooled(x)?;
                let logits = lite0.logits_from_pooled_t(&pooled, false)?;
                Ok(QueryPass {
                    embedded: l2_normalize(&pooled)?,
                    colour: None,
                    probabilities: candle_nn::ops::softmax(&logits, D::Minus1)?,
                    features: map,
                })
            }
            SystemModel::Trained(network) => {
                let (out, map) = network.outputs_with_features(x)?;
                let probabilities = network.config().classifier.probabilities(&out.logits)?;
                Ok(QueryPass {
                    embedded: l2_normalize(&out.embedding)?,
                    colour: normalised_colour(&out)?,
                    probabilities,
                    features: map,
                })
            }
        }
    }

    /// The backbone's last feature map alone, `N × C × h × w` (one backbone pass, no head):
    /// what explaining a result costs.
    pub fn features(&self, x: &Tensor) -> Result<Tensor> {
        let map = match &self.model {
            SystemModel::ImageNet(lite0) => lite0.features(x)?,
            SystemModel::Trained(network) => network.backbone().features_and_pooled(x)?.0,
        };
        Ok(map)
    }

    /// The width of the colour part of [`System::embed_parts`], 0 without a shallow branch.
    pub fn colour_dim(&self) -> usize {
        self.info.colour_dim
    }

    /// How the system's classifier turns logits into probabilities (the ImageNet classifier
    /// of the built-in system is a softmax).
    pub fn classifier(&self) -> crate::model::network::Classifier {
        match &self.model {
            SystemModel::ImageNet(_) => crate::model::network::Classifier::SingleLabel,
            SystemModel::Trained(network) => network.config().classifier,
        }
    }

    /// Label probabilities, `N × label_count`: a softmax over the ImageNet classes for the
    /// built-in system, the network's classifier for trained ones (independent sigmoids for
    /// the paper's multi-label head, a softmax for a single-label one).
    pub fn predict(&self, x: &Tensor) -> Result<Tensor> {
        let probabilities = match &self.model {
            SystemModel::ImageNet(lite0) => {
                let logits = lite0.logits_from_pooled_t(&lite0.pooled(x)?, false)?;
                candle_nn::ops::softmax(&logits, D::Minus1)?
            }
            SystemModel::Trained(network) => network.predict(x)?,
        };
        Ok(probabilities)
    }
}

/// What one pass over a query batch gives an explained search: the embedding and colour part
/// (as [`System::embed_parts`]), the label probabilities and the backbone's last feature map.
pub struct QueryPass {
    pub embedded: Tensor,
    pub colour: Option<Tensor>,
    pub probabilities: Tensor,
    pub features: Tensor,
}

/// The colour part of a pass, L2-normalised.
fn normalised_colour(out: &NetworkOutput) -> Result<Option<Tensor>> {
    Ok(out.colour.as_ref().map(l2_normalize).transpose()?)
}

/// What of a trained system's description decides its embeddings (metrics do not).
fn fingerprint_config(file: &SystemFile) -> String {
    let decisive = serde_json::json!({
        "format": file.format,
        "input": file.input,
        "network": file.network,
        "labels": file.labels,
    });
    decisive.to_string()
}

/// sha256 over the weight file's sha256 and the config text.
fn fingerprint(weights: &[u8], config: &str) -> String {
    sha256_hex(format!("weights {}\nconfig {config}", sha256_hex(weights)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::network::NetworkConfig;
    use candle_nn::VarMap;

    fn shipped() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("weights")
            .join(LITE0_WEIGHTS_FILE)
    }

    #[test]
    fn missing_weights_name_every_place_looked_in() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [dir.path().join("a"), dir.path().join("b")];
        let err = find_weights_in("w.safetensors", &dirs)
            .unwrap_err()
            .to_string();
        assert!(err.contains("w.safetensors"), "{err}");
        for d in &dirs {
            assert!(err.contains(&d.display().to_string()), "{err}");
        }
        assert!(err.contains(WEIGHTS_DIR_ENV), "{err}");
        std::fs::create_dir_all(&dirs[1]).unwrap();
        std::fs::write(dirs[1].join("w.safetensors"), b"x").unwrap();
        assert_eq!(
            find_weights_in("w.safetensors", &dirs).unwrap(),
            dirs[1].join("w.safetensors")
        );
        // The source tree is always among the places, so tests and `cargo run` find it.
        assert!(
            weights_search_dirs()
                .iter()
                .any(|d| d.join(LITE0_WEIGHTS_FILE) == shipped())
        );
    }

    #[test]
    fn system_names_must_make_safe_file_names() {
        for good in ["v1", "lite0-bg.aug_2"] {
            assert!(is_valid_system_name(good), "{good}");
        }
        for bad in ["", "-x", "A", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(!is_valid_system_name(bad), "{bad}");
        }
    }

    /// `embed_and_predict` gives what `embed` and `predict` give, from one pass; so does
    /// `embed_predict_and_features`, whose map is the one `features` gives.
    fn assert_one_pass_matches(system: &System, x: &Tensor) {
        let (e, p) = system.embed_and_predict(x).unwrap();
        let QueryPass {
            embedded: e2,
            colour: c2,
            probabilities: p2,
            features: map,
        } = system.embed_predict_and_features(x).unwrap();
        assert_eq!(c2.is_some(), system.colour_dim() > 0);
        for (one, two) in [(&e, &e2), (&p, &p2), (&map, &system.features(x).unwrap())] {
            assert_eq!(one.dims(), two.dims());
            let diff = (one - two).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
        }
        assert_eq!(map.dims()[0], x.dims()[0]);
        // The colour part comes from the same pass, and does not change the embedding.
        let (parts, colour) = system.embed_parts(x).unwrap();
        let (_, colour_too, _) = system.embed_parts_and_predict(x).unwrap();
        assert_eq!(colour.is_some(), system.colour_dim() > 0);
        if let (Some(colour), Some(colour_too)) = (&colour, &colour_too) {
            assert_eq!(colour.dims(), [x.dim(0).unwrap(), system.colour_dim()]);
            let norms = colour
                .sqr()
                .unwrap()
                .sum(1)
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-4), "{norms:?}");
            let same = (colour - colour_too)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap();
            assert_eq!(same.to_scalar::<f32>().unwrap(), 0.0);
        }
        for (one, two) in [
            (e, system.embed(x).unwrap()),
            (parts, system.embed(x).unwrap()),
            (p, system.predict(x).unwrap()),
        ] {
            assert_eq!(one.dims(), two.dims());
            let diff = (one - two).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
        }
    }

    #[test]
    fn imagenet_lite0_embeds_unit_vectors_and_predicts_classes() {
        let system = System::imagenet_lite0_from(&shipped(), &Device::Cpu).unwrap();
        assert_eq!(system.name(), IMAGENET_LITE0);
        assert_eq!(system.embedding_dim(), 1280);
        assert_eq!(system.labels().len(), 1000);
        assert_eq!(system.labels()[0], "tench");
        assert_eq!(system.fingerprint().len(), 64);
        // The fingerprint depends on the bytes only: loading again gives the same one.
        let again = System::imagenet_lite0_from(&shipped(), &Device::Cpu).unwrap();
        assert_eq!(again.fingerprint(), system.fingerprint());
        let x = Tensor::rand(-1f32, 1.0, (2, 3, 96, 96), &Device::Cpu).unwrap();
        let e = system.embed(&x).unwrap();
        assert_eq!(e.dims(), [2, 1280]);
        for row in e.to_vec2::<f32>().unwrap() {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        }
        let p = system.predict(&x).unwrap();
        assert_eq!(p.dims(), [2, 1000]);
        for row in p.to_vec2::<f32>().unwrap() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        assert_one_pass_matches(&system, &x);
    }

    #[test]
    fn a_file_that_is_not_lite0_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.safetensors");
        let t = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
        crate::model::weights::write_safetensors(&[("x".into(), t)], &BTreeMap::new(), &path)
            .unwrap();
        let err = System::imagenet_lite0_from(&path, &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("other.safetensors"), "{err}");
        assert!(err.contains("_conv_stem"), "{err}");
    }

    #[test]
    fn a_trained_system_is_saved_listed_loaded_and_fingerprinted() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib")).unwrap();
        let config = NetworkConfig {
            embedding_dim: 24,
            ..NetworkConfig::lite0(3)
        };
        let varmap = VarMap::new();
        let net = ParallelNetwork::fresh(&varmap, &config, &shipped(), &Device::Cpu).unwrap();
        let labels: Vec<String> = ["category:dress", "colour:red", "texture:dots"]
            .map(String::from)
            .to_vec();
        let input = Preprocess {
            side_px: 64,
            ..Preprocess::LITE0
        };
        let metrics = serde_json::json!({"iou": 0.5});
        let info = System::save_trained(&mut lib, "v2", &net, &input, &labels, &metrics).unwrap();
        assert!(!info.builtin);
        let listed = System::list(&lib).unwrap();
        assert_eq!(listed.len(), 2);
        // The listing knows the colour branch from system.json (the store does not keep it).
        assert_eq!((listed[0].colour_dim, listed[1].colour_dim), (0, 64));
        assert_eq!(info.colour_dim, 64);
        assert_eq!(listed[0], System::imagenet_lite0_info());
        assert_eq!(listed[1], info);
        assert_eq!((listed[1].embedding_dim, listed[1].label_count), (24, 3));

        let system = System::load(&lib, "v2", &Device::Cpu).unwrap();
        assert_eq!(system.preprocess(), input);
        assert_eq!(system.labels(), labels);
        let x = Tensor::rand(-1f32, 1.0, (2, 3, 64, 64), &Device::Cpu).unwrap();
        let diff = (system.embed(&x).unwrap() - net.embed(&x).unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(diff, 0.0);
        assert_eq!(system.predict(&x).unwrap().dims(), [2, 3]);
        assert_one_pass_matches(&system, &x);

        // Saving other weights under the same name changes the fingerprint; new metrics do not.
        let first = system.fingerprint().to_string();
        System::save_trained(
            &mut lib,
            "v2",
            &net,
            &input,
            &labels,
            &serde_json::json!({}),
        )
        .unwrap();
        // The system loaded before knows it was saved again; the one loaded after does not.
        assert!(system.is_saved_again());
        let same = System::load(&lib, "v2", &Device::Cpu).unwrap();
        assert!(!same.is_saved_again());
        assert_eq!(same.fingerprint(), first);
        let other =
            ParallelNetwork::fresh(&VarMap::new(), &config, &shipped(), &Device::Cpu).unwrap();
        System::save_trained(&mut lib, "v2", &other, &input, &labels, &metrics).unwrap();
        let changed = System::load(&lib, "v2", &Device::Cpu).unwrap();
        assert_ne!(changed.fingerprint(), first);
        assert!(same.is_saved_again());
        // Removing the system counts too; the built-in one is never saved again.
        std::fs::remove_file(system_dir(lib.root(), "v2").join("system.json")).unwrap();
        assert!(changed.is_saved_again());
        assert!(
            !System::imagenet_lite0(&Device::Cpu)
                .unwrap()
                .is_saved_again()
        );

        let err = System::load(&lib, "nope", &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("imagenet-lite0, v2"),
            "{err}"
        );
        let err = System::save_trained(&mut lib, IMAGENET_LITE0, &net, &input, &labels, &metrics)
            .unwrap_err();
        assert!(err.to_string().contains("cannot name"), "{err}");
    }
}
