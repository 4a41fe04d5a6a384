//! What a training run is asked to do: [`TrainConfig`] and the choices it is made of
//! (mode, background augmentation, classifier, learning-rate schedule), with their parsing
//! and the checks made before a run reads or writes anything.

use super::augment::AugmentRanges;
use super::background::SceneSource;
use super::data::Sample;
use crate::error::{Error, Result};
use crate::model::backbone::BackboneKind;
use crate::model::network::Classifier;
use crate::model::system::{self, IMAGENET_LITE0};
use crate::vision::preprocess::Preprocess;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which weights train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode")]
pub enum Mode {
    /// The shallow branch and the head; the backbone is frozen and its features cached.
    Head,
    /// The last `blocks` blocks of the backbone too.
    Partial { blocks: usize },
    /// Every weight.
    Full,
    /// Chosen at the start of a new run for this catalogue and machine
    /// ([`plan::plan_mode`](super::plan::plan_mode)); the run's state keeps the mode chosen,
    /// so nothing past the start sees `Auto` (where it does, it is taken as head mode).
    Auto,
}

impl Mode {
    /// `head`, `partial` (with `blocks`) or `full`.
    pub fn parse(name: &str, blocks: usize) -> Result<Mode> {
        match name.trim().to_ascii_lowercase().as_str() {
            "head" => Ok(Mode::Head),
            "partial" => Ok(Mode::Partial { blocks }),
            "full" => Ok(Mode::Full),
            "auto" => Ok(Mode::Auto),
            other => Err(Error::Invalid(format!(
                "unknown training mode {other:?}: use auto, head, partial or full"
            ))),
        }
    }

    /// The mode's name.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Head => "head",
            Mode::Partial { .. } => "partial",
            Mode::Full => "full",
            Mode::Auto => "auto",
        }
    }
}

/// Where new backgrounds come from, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundAug {
    Off,
    /// The bundled real photographs (`background::TRAINING_PHOTOS`).
    Real,
    /// The demo generator's procedural scenes.
    Procedural,
    /// Scene photos in a folder.
    Folder(PathBuf),
}

impl BackgroundAug {
    /// `off`, `real`, `procedural`, or a folder path (`./real` for a folder named so).
    pub fn parse(spec: &str) -> BackgroundAug {
        match spec.trim() {
            "off" | "" => BackgroundAug::Off,
            "real" => BackgroundAug::Real,
            "procedural" => BackgroundAug::Procedural,
            dir => BackgroundAug::Folder(PathBuf::from(dir)),
        }
    }

    /// How the CLI and the systems table say it.
    pub fn describe(&self) -> String {
        match self {
            BackgroundAug::Off => "off".into(),
            BackgroundAug::Real => "real".into(),
            BackgroundAug::Procedural => "procedural".into(),
            BackgroundAug::Folder(dir) => dir.display().to_string(),
        }
    }

    pub(super) fn scenes(&self) -> Result<Option<SceneSource>> {
        Ok(match self {
            BackgroundAug::Off => None,
            BackgroundAug::Real => Some(SceneSource::Photos),
            BackgroundAug::Procedural => Some(SceneSource::Procedural),
            BackgroundAug::Folder(dir) => Some(SceneSource::folder(dir)?),
        })
    }
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

fn default_backbone_lr_factor() -> f64 {
    0.1
}

/// The classifier a run asks for (see [`TrainConfig::classifier`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassifierChoice {
    #[default]
    Auto,
    MultiLabel,
    SingleLabel,
}

impl ClassifierChoice {
    /// `auto`, `multi-label` or `single-label`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim() {
            "auto" => Ok(Self::Auto),
            "multi-label" | "multi" | "sigmoid" => Ok(Self::MultiLabel),
            "single-label" | "single" | "softmax" => Ok(Self::SingleLabel),
            other => Err(Error::Invalid(format!(
                "unknown classifier {other:?}: use auto, multi-label or single-label"
            ))),
        }
    }

    /// The classifier for a training set: `auto` is single-label when every item has exactly
    /// one label of the vocabulary (and there are at least two).
    pub(super) fn resolve(self, train: &[Sample], labels: usize) -> Classifier {
        match self {
            Self::MultiLabel => Classifier::MultiLabel,
            Self::SingleLabel => Classifier::SingleLabel,
            Self::Auto => {
                let one_each = train
                    .iter()
                    .all(|s| s.targets.iter().filter(|&&t| t > 0.5).count() == 1);
                if labels >= 2 && one_each && !train.is_empty() {
                    Classifier::SingleLabel
                } else {
                    Classifier::MultiLabel
                }
            }
        }
    }
}

/// Everything a training run is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The new system's name (also the run's folder).
    pub name: String,
    /// The backbone's name (`BackboneKind::parse`).
    pub backbone: String,
    /// The backbone's pretrained weights; `None` for a Lite variant's shipped ones.
    pub backbone_weights: Option<PathBuf>,
    /// The side of the square input the backbone sees, in pixels; `None` for the backbone's
    /// own ([`BackboneKind::input_px`]: 224 for Lite0, 260 for Lite2 …). The system keeps
    /// the side it was trained at in its `system.json`, and indexes, queries and explains
    /// at that side. [`MIN_INPUT_SIDE_PX`]…[`MAX_INPUT_SIDE_PX`].
    #[serde(default)]
    pub input_side_px: Option<u32>,
    pub mode: Mode,
    pub epochs: usize,
    pub batch_size: usize,
    /// Batches whose gradients are summed before each optimiser step, so that a small batch
    /// (what fits in memory) stands in for a larger one.
    #[serde(default = "one")]
    pub accumulate: usize,
    pub learning_rate: f64,
    /// The backbone's learning rate as a fraction of `learning_rate` (partial and full
    /// modes): pretrained weights need smaller steps than the new head, or the first epochs
    /// undo what ImageNet taught them.
    #[serde(default = "default_backbone_lr_factor")]
    pub backbone_lr_factor: f64,
    pub weight_decay: f64,
    pub dropout: f32,
    pub embedding_dim: usize,
    /// The learning rate over the run: constant, or a cosine from `learning_rate` down to a
    /// twentieth of it at the last epoch.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Whether the network has the shallow colour branch beside the backbone (paper §III;
    /// off gives its backbone-only systems V1 and V4, to measure what the branch adds).
    #[serde(default = "yes")]
    pub shallow: bool,
    /// Which classifier and loss: the paper's multi-label head (eq. 1–3), a softmax for
    /// single-label catalogues, or `auto` (softmax when every training item has exactly one
    /// label).
    #[serde(default)]
    pub classifier: ClassifierChoice,
    /// Regular augmentation (flip, rotation, shift, shear).
    pub augment: bool,
    /// With `augment`, the heavier ranges ([`AugmentRanges::heavy`]).
    #[serde(default)]
    pub heavy_augment: bool,
    pub background: BackgroundAug,
    /// Head mode: augmented variants cached per training item (besides the plain image).
    pub variants: usize,
    /// Epochs without a better validation IoU before stopping.
    pub patience: usize,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            name: "trained".into(),
            backbone: crate::model::network::LITE0_BACKBONE.into(),
            backbone_weights: None,
            input_side_px: None,
            mode: Mode::Head,
            epochs: 20,
            batch_size: 32,
            accumulate: 1,
            learning_rate: 2e-3,
            backbone_lr_factor: default_backbone_lr_factor(),
            weight_decay: 1e-2,
            dropout: 0.3,
            embedding_dim: 512,
            lr_schedule: LrSchedule::Constant,
            shallow: true,
            classifier: ClassifierChoice::Auto,
            augment: true,
            heavy_augment: false,
            background: BackgroundAug::Off,
            variants: 4,
            patience: 4,
            seed: 7,
        }
    }
}

impl TrainConfig {
    /// How strong the regular augmentation is.
    pub fn augment_ranges(&self) -> AugmentRanges {
        if self.heavy_augment {
            AugmentRanges::heavy()
        } else {
            AugmentRanges::default()
        }
    }

    /// The input side the run trains at: [`TrainConfig::input_side_px`] or `kind`'s own.
    pub fn input_side(&self, kind: BackboneKind) -> u32 {
        self.input_side_px.unwrap_or_else(|| kind.input_px())
    }

    /// How the run's images are prepared: `kind`'s normalisation at [`Self::input_side`].
    pub fn preprocess(&self, kind: BackboneKind) -> Preprocess {
        kind.preprocess_at(self.input_side(kind))
    }

    /// Whether any augmentation is on.
    pub fn augmenting(&self) -> bool {
        self.augment || self.background != BackgroundAug::Off
    }

    pub(super) fn check(&self) -> Result<()> {
        check_run_name(&self.name)?;
        if self.batch_size == 0 || self.accumulate == 0 {
            return Err(Error::Invalid(
                "the batch size and the batches per step must be at least 1".into(),
            ));
        }
        if !(self.backbone_lr_factor >= 0.0 && self.backbone_lr_factor.is_finite()) {
            return Err(Error::Invalid(
                "the backbone's learning-rate factor must be 0 or more".into(),
            ));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::Invalid("the learning rate must be above 0".into()));
        }
        if let Mode::Partial { blocks: 0 } = self.mode {
            return Err(Error::Invalid("partial mode needs at least 1 block".into()));
        }
        BackboneKind::parse(&self.backbone)?;
        if let Some(side) = self.input_side_px {
            check_input_side(side)?;
        }
        Ok(())
    }
}

/// The smallest input side a run may ask for: below it the last map of a stride-32
/// backbone is a single pixel, or none.
pub const MIN_INPUT_SIDE_PX: u32 = 64;
/// The largest input side a run may ask for: 640 (EfficientNet-B7's 600 and a little over;
/// beyond that the feature cache and the memory of one batch grow past what a desktop has).
pub const MAX_INPUT_SIDE_PX: u32 = 640;

/// An error unless `side` is in [`MIN_INPUT_SIDE_PX`]…[`MAX_INPUT_SIDE_PX`]. Any side in
/// between works: the convolutions pad for the size they are given.
pub fn check_input_side(side: u32) -> Result<()> {
    if (MIN_INPUT_SIDE_PX..=MAX_INPUT_SIDE_PX).contains(&side) {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "input size {side} px is out of range: use {MIN_INPUT_SIDE_PX} to \
             {MAX_INPUT_SIDE_PX} (the side of the square image the backbone sees; leave it out \
             for the backbone's own, e.g. 224 for efficientnet-lite0, 260 for -lite2)"
        )))
    }
}

/// How the learning rate moves over a run ([`TrainConfig::lr_schedule`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    #[default]
    Constant,
    Cosine,
}

impl LrSchedule {
    /// `constant` or `cosine`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "constant" => Ok(LrSchedule::Constant),
            "cosine" => Ok(LrSchedule::Cosine),
            other => Err(Error::Invalid(format!(
                "unknown learning-rate schedule {other:?}: use constant or cosine"
            ))),
        }
    }

    /// The factor on the base learning rate in `epoch` (1-based) of `epochs`: a cosine ends
    /// at [`COSINE_FLOOR`] of it, so the last epoch still learns.
    pub fn factor(self, epoch: usize, epochs: usize) -> f64 {
        match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => {
                let t = epoch.saturating_sub(1) as f64 / epochs.saturating_sub(1).max(1) as f64;
                COSINE_FLOOR + (1.0 - COSINE_FLOOR) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

/// Where the cosine schedule ends, as a fraction of the base learning rate.
pub const COSINE_FLOOR: f64 = 0.05;

/// A run name must be a valid system name (it becomes `DIR/train/<name>/` and
/// `DIR/systems/<name>/`), and not the built-in system's.
fn check_run_name(name: &str) -> Result<()> {
    if !system::is_valid_system_name(name) || name == IMAGENET_LITE0 {
        return Err(Error::Invalid(format!(
            "{name:?} cannot name a trained system: use 1–64 characters of a-z, 0-9, '.', '_' \
             and '-' (not {IMAGENET_LITE0})"
        )));
    }
    Ok(())
}
