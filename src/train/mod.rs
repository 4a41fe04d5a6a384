//! Training: fine-tune the parallel network on the library's own catalogue and labels, and
//! register the result as a new system (DESIGN §5; paper §III, §IV.B, §IV.D).
//!
//! [`train`] is a job: it splits the catalogue 80/10/10 ([`split`]), builds the label
//! vocabulary from the training items, and minimises the paper's loss ([`loss`], eq. 1–3)
//! with AdamW, dropout and weight decay, measuring eq. (5) on the validation split after
//! every epoch ([`metrics`]) and stopping early when it stops improving. Every epoch ends in
//! an atomic checkpoint ([`checkpoint`]), so a crashed or cancelled run resumes where it was.
//! The best epoch's weights become a system (`model::system`) with its metrics, which search,
//! indexing and `eval` use at once.
//!
//! ## Modes
//! Every mode caches what it does not train, on disk ([`cache`], f16, so a resumed or killed
//! run does not compute it again): with augmentation, a fixed number of augmented
//! *variants* per training item, drawn once; each epoch takes one of them per item.
//! * **head**: the backbone is frozen and its pooled features cached with the shallow
//!   branch's small input (the photo pooled to 56×56); the shallow branch, the embedding
//!   layer and the classifier train.
//! * **partial** (`--blocks N`): the backbone's first blocks are frozen and the map entering
//!   block `16 − N` is cached; the last N blocks, the head conv, the shallow branch and the
//!   head train. The backbone learns at [`TrainConfig::backbone_lr_factor`] of the head's
//!   rate and keeps its ImageNet batch-norm statistics (a 16-image batch of one shop's
//!   photos is a worse estimate than ImageNet's), so the trained part sees the same
//!   features in training and in search. On real photos this is what beats a linear probe
//!   (README, "On real photos").
//! * **full**: every weight trains from the decoded photos, batch norm on batch statistics
//!   with its running averages updated, as the paper did (a GPU is advised).
//! * **auto** (the default): [`plan`] picks partial where the estimated run fits its budget
//!   on this machine, else head, and says why ([`TrainEvent::Plan`]).
//!
//! The training kernels (`model::conv`, `model::batch_norm`, `model::elementwise`,
//! `model::depthwise`) make partial and full training on a CPU faster than PyTorch's
//! (README, "Training speed").
//!
//! ## Classifier
//! The paper's multi-label head (sigmoid, eq. 1–3) by default; a catalogue in which every
//! item has exactly one label trains a softmax with label smoothing instead
//! ([`ClassifierChoice::Auto`]): one category per photo is a choice among classes, and
//! treating it as ten independent yes/no questions learnt less on real photos.

//! ## Augmentation
//! Regular augmentation ([`augment`]) flips, rotates, shifts and shears; background
//! augmentation ([`background`]) cuts the item out and pastes it on a scene (with
//! probability [`BACKGROUND_PROBABILITY`], so plain shop photos are still seen).

pub mod augment;
pub mod background;
pub mod cache;
pub mod checkpoint;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod plan;
pub mod split;

use crate::catalog::{Item, ItemId};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::network::{Classifier, NetworkConfig, NetworkOutput, ParallelNetwork};
use crate::model::system::{self, IMAGENET_LITE0, LITE0_WEIGHTS_FILE, System};
use crate::store::ItemFilter;
use crate::vision::preprocess::{Preprocess, WHITE, letterbox};
use augment::{AugmentRanges, Transform};
use background::SceneSource;
use cache::FeatureCache;
use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Shape, Tensor, TensorId, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Optimizer, ParamsAdamW, VarBuilder, VarMap};
use checkpoint::{RunState, load_vars, run_dir, save_vars};
use image::RgbImage;
use metrics::{ClassifyMetrics, MetricsAccumulator};
use optim::AdamW;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use split::Split;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The share of augmented samples that get a new background when background augmentation
/// is on.
pub const BACKGROUND_PROBABILITY: f64 = 0.7;

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
    /// Chosen at the start of a new run for this catalogue and machine ([`plan::plan_mode`]);
    /// the run's state keeps the mode chosen, so nothing past the start sees `Auto` (where it
    /// does, it is taken as head mode).
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

    fn scenes(&self) -> Result<Option<SceneSource>> {
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
    fn resolve(self, train: &[Sample], labels: usize) -> Classifier {
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

/// Turns probabilities into what eq. (5) scores: unchanged for the multi-label head (a label
/// is predicted at p ≥ 0.5), the most probable label alone for a single-label one.
fn as_predictions(classifier: Classifier, rows: &mut [Vec<f32>]) {
    if classifier != Classifier::SingleLabel {
        return;
    }
    for row in rows {
        let best = row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        for (i, v) in row.iter_mut().enumerate() {
            *v = if i == best { 1.0 } else { 0.0 };
        }
    }
}

/// Label smoothing of the single-label loss ([`loss::softmax_loss`]).
const LABEL_SMOOTHING: f64 = 0.1;

/// Everything a training run is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The new system's name (also the run's folder).
    pub name: String,
    /// The backbone's name (`BackboneKind::parse`).
    pub backbone: String,
    /// The backbone's pretrained weights; `None` for Lite0's shipped ones.
    pub backbone_weights: Option<PathBuf>,
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

    /// Whether any augmentation is on.
    pub fn augmenting(&self) -> bool {
        self.augment || self.background != BackgroundAug::Off
    }

    fn check(&self) -> Result<()> {
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
        Ok(())
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

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// The mean of eq. (3) over the epoch's steps (the softmax loss for a single-label head).
    pub train_loss: f64,
    /// The mean of eq. (1) alone; for a single-label head, the same as `train_loss`.
    pub train_bce: f64,
    /// Eq. (5) on the validation split.
    pub validation: ClassifyMetrics,
    /// Training images per second (forward + backward + update).
    pub images_per_s: f64,
    pub elapsed_secs: f64,
}

/// What a running training reports, besides `JobContext::progress`.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// The mode `--mode auto` chose, and why (the first event of a new run that asked).
    Plan(plan::ModePlan),
    /// Head mode is computing the frozen backbone's features.
    Caching { done: usize, total: usize },
    /// One optimisation step.
    Step {
        epoch: usize,
        epochs: usize,
        step: usize,
        steps: usize,
        loss: f64,
        images_per_s: f64,
        eta_secs: f64,
    },
    /// One epoch, validated.
    Epoch(EpochStats),
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainReport {
    pub system: String,
    pub mode: String,
    pub epochs_run: usize,
    pub best_epoch: usize,
    pub stopped_early: bool,
    /// The epoch the run continued from (`None` for a new run).
    pub resumed_from: Option<usize>,
    pub labels: usize,
    pub train_items: usize,
    pub validation_items: usize,
    pub test_items: usize,
    /// Eq. (5) of the saved (best) weights.
    pub validation: ClassifyMetrics,
    pub test: ClassifyMetrics,
    pub images_per_s: f64,
    pub elapsed_secs: f64,
    pub history: Vec<EpochStats>,
    /// The feature cache of head and partial modes: views in it, and how many were already
    /// there when the run started (a resumed or repeated run).
    pub cache: Option<CacheReport>,
}

/// How a run's feature cache was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheReport {
    pub views: usize,
    pub reused: usize,
}

/// An item with what training needs of it.
#[derive(Debug, Clone)]
struct Sample {
    id: ItemId,
    path: PathBuf,
    targets: Vec<f32>,
}

/// How views of an item are drawn.
#[derive(Debug, Clone)]
struct Views {
    side: u32,
    augment: bool,
    scenes: Option<SceneSource>,
    ranges: AugmentRanges,
}

impl Views {
    /// The plain view (as search and evaluation see an item) or an augmented one from `rng`.
    fn view(&self, shop: &RgbImage, augmented: bool, rng: &mut ChaCha8Rng) -> Result<RgbImage> {
        if !augmented {
            return Ok(letterbox(shop, self.side, WHITE));
        }
        let transform = self.augment.then(|| Transform::random(&self.ranges, rng));
        if let Some(scenes) = &self.scenes
            && rng.random_bool(BACKGROUND_PROBABILITY)
            && let Some(img) =
                background::on_new_background(shop, scenes, self.side, transform.as_ref(), rng)?
        {
            return Ok(img);
        }
        let fill = background::border_colour(shop);
        let square = letterbox(shop, self.side, fill);
        Ok(match transform {
            Some(t) => t.apply(&square, fill),
            None => square,
        })
    }

    /// Decodes `sample`'s image and draws its view: variant 0 is plain, others augmented from
    /// the stream of (`seed`, `purpose`, item, `index`).
    fn load(&self, sample: &Sample, seed: u64, purpose: u64, index: u64) -> Result<RgbImage> {
        let shop = crate::vision::decode(&sample.path)?;
        let mut rng = stream(seed, purpose, sample.id as u64, index);
        self.view(&shop, index > 0 || purpose == EPOCH_STREAM, &mut rng)
    }
}

/// Random-stream purposes.
const VARIANT_STREAM: u64 = 1;
const EPOCH_STREAM: u64 = 2;
const SHUFFLE_STREAM: u64 = 3;

/// A random stream for (seed, purpose, a, b), independent of order and threads.
fn stream(seed: u64, purpose: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream((purpose << 56) ^ b);
    rng
}

/// The backbone weights a config names, or Lite0's shipped ones.
fn backbone_weights(config: &TrainConfig, kind: BackboneKind) -> Result<PathBuf> {
    match (&config.backbone_weights, kind) {
        (Some(path), _) => Ok(path.clone()),
        (None, BackboneKind::Lite0) => system::find_weights(LITE0_WEIGHTS_FILE),
        (None, other) => Err(Error::Invalid(format!(
            "training on {other} needs its pretrained weights: pass --backbone-weights FILE"
        ))),
    }
}

/// Trains a new system in `lib` as `config` says, or resumes the run of that name with
/// `resume`. Progress goes to `ctx` and, in more detail, to `events`.
pub fn train(
    lib: &mut Library,
    config: &TrainConfig,
    resume: bool,
    device: &Device,
    ctx: &JobContext,
    events: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainReport> {
    // The name (a folder under the library) and the rest of the config are checked before
    // anything is read or written, `resume` included.
    config.check()?;
    let start = Instant::now();
    let _retain = crate::RetainFreedMemory::new();
    let dir = run_dir(lib.root(), &config.name);
    let items = lib.store.items(&ItemFilter::default())?;
    let mut state = if resume {
        let mut state = RunState::load(&dir)?;
        // The run continues as it started; only more epochs may be asked for.
        state.config.epochs = state.config.epochs.max(config.epochs);
        state
    } else {
        let mut config = config.clone();
        if config.mode == Mode::Auto {
            let chosen = plan::plan_mode(lib, &config, device)?;
            config.mode = chosen.mode;
            events(&TrainEvent::Plan(chosen));
        }
        let state = new_state(&config, &items)?;
        // Saved before the slow part, so that a run killed while caching can resume.
        state.save(&dir)?;
        state
    };
    let resumed_from = resume.then_some(state.epochs_done);
    let config = state.config.clone();
    let kind = BackboneKind::parse(&config.backbone)?;
    let weights_path = backbone_weights(&config, kind)?;
    let preprocess = kind.preprocess();
    let sets = Sets::new(lib, &items, &state)?;
    let views = Views {
        side: preprocess.side_px,
        augment: config.augment,
        scenes: config.background.scenes()?,
        ranges: config.augment_ranges(),
    };
    let net_config = NetworkConfig {
        backbone: kind.as_str().into(),
        backbone_dim: kind.feature_dim(),
        embedding_dim: config.embedding_dim,
        dropout: config.dropout,
        label_count: state.labels.len(),
        classifier: config.classifier.resolve(&sets.train, state.labels.len()),
        ..NetworkConfig::lite0(state.labels.len())
    };
    let net_config = NetworkConfig {
        shallow: net_config.shallow.filter(|_| config.shallow),
        ..net_config
    };
    let varmap = VarMap::new();
    let fresh = ParallelNetwork::fresh(&varmap, &net_config, &weights_path, device)?;
    if resume {
        // The last finished epoch, or the initial weights a run killed before its first
        // epoch saved (a fresh draw would not match its cached state).
        let last = dir.join("last.safetensors");
        let best = dir.join("best.safetensors");
        if state.epochs_done > 0 {
            load_vars(&varmap, &last, device)?;
        } else if best.exists() {
            load_vars(&varmap, &best, device)?;
        }
    }
    let trainable = trainable_vars(&varmap, &fresh, config.mode)?;
    // Partial mode trains a network whose frozen weights are detached (`frozen_except`).
    let frozen = match config.mode {
        Mode::Partial { .. } => Some(frozen_except(&varmap, &trainable, &net_config, device)?),
        Mode::Head | Mode::Full | Mode::Auto => None,
    };
    let net = frozen.as_ref().unwrap_or(&fresh);
    let feed = Feed::new(
        &dir,
        net,
        &preprocess,
        &views,
        &config,
        &sets,
        device,
        ctx,
        events,
    )?;

    let frequencies = label_frequencies(&sets.train, state.labels.len());
    let weights = Tensor::new(loss::label_weights(&frequencies), device)?;
    let mut optimizer = AdamW::with_groups(
        backbone_groups(&varmap, &trainable, config.backbone_lr_factor)?,
        ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: config.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let eval = Evaluation {
        feed: &feed,
        preprocess: &preprocess,
        views: &views,
        config: &config,
        device,
    };
    if state.epochs_done == 0 && state.history.is_empty() {
        // The untrained network is the baseline the first epoch must beat.
        state.best_iou = eval.metrics(net, &sets.validation, ctx)?.iou;
        state.best_epoch = 0;
        save_vars(&varmap, &dir.join("best.safetensors"))?;
        state.save(&dir)?;
    }

    let steps = sets.train.len().div_ceil(config.batch_size);
    let mut stopped_early = false;
    let (mut trained_images, mut train_secs) = (0usize, 0.0f64);
    while state.epochs_done < config.epochs {
        if state.epochs_done - state.best_epoch >= config.patience.max(1) && state.epochs_done > 0 {
            stopped_early = true;
            break;
        }
        let epoch = state.epochs_done + 1;
        let epoch_start = Instant::now();
        optimizer.set_learning_rate(
            config.learning_rate * config.lr_schedule.factor(epoch, config.epochs),
        );
        let mut order: Vec<usize> = (0..sets.train.len()).collect();
        order.shuffle(&mut stream(config.seed, SHUFFLE_STREAM, 0, epoch as u64));
        let mut variant_rng = stream(config.seed, SHUFFLE_STREAM, 1, epoch as u64);
        let (mut loss_sum, mut bce_sum) = (0.0f64, 0.0f64);
        let mut pending: Option<GradStore> = None;
        for (step, batch) in order.chunks(config.batch_size).enumerate() {
            ctx.check_cancelled()?;
            let step_start = Instant::now();
            let chosen: Vec<&Sample> = batch.iter().map(|&i| &sets.train[i]).collect();
            let targets = targets_tensor(&chosen, device)?;
            let logits = feed
                .train_outputs(
                    net,
                    &chosen,
                    &views,
                    &preprocess,
                    &config,
                    epoch,
                    &mut variant_rng,
                    device,
                )?
                .logits;
            let parts = match net_config.classifier {
                Classifier::MultiLabel => loss::paper_loss(&logits, &targets, &weights)?,
                Classifier::SingleLabel => loss::softmax_loss(&logits, &targets, LABEL_SMOOTHING)?,
            };
            let value = f64::from(parts.loss.to_scalar::<f32>()?);
            check_finite(value, epoch, step + 1)?;
            let accumulate = config.accumulate.max(1);
            let grads = if accumulate == 1 {
                parts.loss.backward()?
            } else {
                let grads = (&parts.loss / accumulate as f64)?.backward()?;
                add_grads(pending.take(), grads, &trainable)?
            };
            if (step + 1) % accumulate == 0 || step + 1 == steps {
                optimizer.step(&grads)?;
            } else {
                pending = Some(grads);
            }
            loss_sum += value;
            bce_sum += f64::from(parts.bce);
            let secs = step_start.elapsed().as_secs_f64();
            trained_images += chosen.len();
            train_secs += secs;
            let images_per_s = trained_images as f64 / train_secs.max(1e-9);
            let remaining_steps = (steps - step - 1) + steps * (config.epochs - epoch);
            let eta_secs = remaining_steps as f64 * config.batch_size as f64 / images_per_s;
            events(&TrainEvent::Step {
                epoch,
                epochs: config.epochs,
                step: step + 1,
                steps,
                loss: value,
                images_per_s,
                eta_secs,
            });
            ctx.progress(
                ((epoch - 1) * steps + step + 1) as u64,
                (config.epochs * steps) as u64,
                &format!("epoch {epoch}/{}: loss {value:.4}", config.epochs),
            );
        }
        let validation = eval.metrics(net, &sets.validation, ctx)?;
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / steps.max(1) as f64,
            train_bce: bce_sum / steps.max(1) as f64,
            validation,
            images_per_s: trained_images as f64 / train_secs.max(1e-9),
            elapsed_secs: epoch_start.elapsed().as_secs_f64(),
        };
        save_vars(&varmap, &dir.join("last.safetensors"))?;
        if validation.iou > state.best_iou {
            state.best_iou = validation.iou;
            state.best_epoch = epoch;
            save_vars(&varmap, &dir.join("best.safetensors"))?;
        }
        state.epochs_done = epoch;
        state.history.push(stats.clone());
        state.save(&dir)?;
        events(&TrainEvent::Epoch(stats));
    }

    // The best epoch's weights become the system. A new network reads them: the one that
    // trained keeps folded inference weights of the last epoch.
    load_vars(&varmap, &dir.join("best.safetensors"), device)?;
    let settled = match config.mode {
        Mode::Partial { .. } => {
            let trainable = trainable_vars(&varmap, &fresh, config.mode)?;
            frozen_except(&varmap, &trainable, &net_config, device)?
        }
        Mode::Head | Mode::Full | Mode::Auto => varmap_net(&varmap, &net_config, device)?,
    };
    let validation = eval.metrics(&settled, &sets.validation, ctx)?;
    let test = eval.metrics(&settled, &sets.test, ctx)?;
    let images_per_s = if train_secs > 0.0 {
        trained_images as f64 / train_secs
    } else {
        state.history.last().map_or(0.0, |h| h.images_per_s)
    };
    let report = TrainReport {
        system: config.name.clone(),
        mode: config.mode.name().into(),
        epochs_run: state.epochs_done,
        best_epoch: state.best_epoch,
        stopped_early,
        resumed_from,
        labels: state.labels.len(),
        train_items: sets.train.len(),
        validation_items: sets.validation.len(),
        test_items: sets.test.len(),
        validation,
        test,
        images_per_s,
        elapsed_secs: start.elapsed().as_secs_f64(),
        history: state.history.clone(),
        cache: feed.report(),
    };
    let metrics = serde_json::json!({
        "mode": report.mode,
        "epochs": report.epochs_run,
        "best_epoch": report.best_epoch,
        "augment": config.augment,
        "background_aug": config.background.describe(),
        "seed": config.seed,
        "validation": validation,
        "test": test,
        "train_images_per_s": images_per_s,
    });
    System::save_trained(
        lib,
        &config.name,
        &settled,
        &preprocess,
        &state.labels,
        &metrics,
    )?;
    let split_json = serde_json::to_vec_pretty(&state.split)
        .map_err(|e| Error::Invalid(format!("cannot describe the split: {e}")))?;
    crate::atomic_file::write(
        &system::system_dir(lib.root(), &config.name).join(SPLIT_FILE),
        &split_json,
    )?;
    Ok(report)
}

/// The trainable variables in two groups for the optimiser: the head and the shallow branch
/// at the full learning rate, the backbone's at `backbone_factor` of it.
fn backbone_groups(
    varmap: &VarMap,
    trainable: &[Var],
    backbone_factor: f64,
) -> Result<Vec<(Vec<Var>, f64)>> {
    let backbone: HashSet<TensorId> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?
        .iter()
        .filter(|(name, _)| name.starts_with("backbone."))
        .map(|(_, v)| v.as_tensor().id())
        .collect();
    let (ours, theirs): (Vec<Var>, Vec<Var>) = trainable
        .iter()
        .cloned()
        .partition(|v| !backbone.contains(&v.as_tensor().id()));
    Ok(vec![(ours, 1.0), (theirs, backbone_factor)])
}

/// `grads` added to the sums so far (`None` before the first batch), for the variables that
/// train.
fn add_grads(sum: Option<GradStore>, grads: GradStore, vars: &[Var]) -> Result<GradStore> {
    let Some(mut sum) = sum else {
        return Ok(grads);
    };
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            let total = match sum.get(var.as_tensor()) {
                Some(s) => (s + g)?,
                None => g.clone(),
            };
            sum.insert(var.as_tensor(), total);
        }
    }
    Ok(sum)
}

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

/// The train, validation and test samples of a run, with their targets.
struct Sets {
    train: Vec<Sample>,
    validation: Vec<Sample>,
    test: Vec<Sample>,
}

impl Sets {
    fn new(lib: &Library, items: &[Item], state: &RunState) -> Result<Sets> {
        let label_index: HashMap<&str, usize> = state
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let by_id: HashMap<ItemId, &Item> = items.iter().map(|i| (i.id, i)).collect();
        let samples_of = |ids: &[ItemId]| -> Result<Vec<Sample>> {
            ids.iter()
                .map(|id| {
                    let item = by_id.get(id).ok_or_else(|| {
                        Error::Invalid(format!(
                            "item {id} of the run {:?} is no longer in the library; start a new \
                             run",
                            state.config.name
                        ))
                    })?;
                    let mut targets = vec![0.0f32; label_index.len()];
                    for label in &item.labels {
                        if let Some(&i) = label_index.get(label.to_string().as_str()) {
                            targets[i] = 1.0;
                        }
                    }
                    Ok(Sample {
                        id: *id,
                        path: lib.resolve(&item.image),
                        targets,
                    })
                })
                .collect()
        };
        Ok(Sets {
            train: samples_of(&state.split.train)?,
            validation: samples_of(&state.split.validation)?,
            test: samples_of(&state.split.test)?,
        })
    }
}

/// What the optimisation steps read.
enum Feed {
    /// Rows of the feature cache (see [`cache`]): the frozen part ran once per view.
    Cached {
        cache: FeatureCache,
        /// Rows already written when the run opened the cache.
        reused: usize,
        rows: HashMap<(ItemId, usize), usize>,
        /// Augmented views per training item (besides the plain one).
        variants: usize,
        /// `None`: rows hold pooled features (head mode); `Some(b)`: the map entering block
        /// `b`, which the training pass continues from (partial mode).
        suffix_start: Option<usize>,
    },
    /// Images decoded and augmented at every step (full mode; partial mode on a backbone
    /// that cannot be split).
    Images,
}

impl Feed {
    /// The feed of `config`'s mode, building (or finishing) the feature cache where the mode
    /// has one.
    #[allow(clippy::too_many_arguments)]
    fn new(
        dir: &Path,
        net: &ParallelNetwork,
        preprocess: &Preprocess,
        views: &Views,
        config: &TrainConfig,
        sets: &Sets,
        device: &Device,
        ctx: &JobContext,
        events: &mut dyn FnMut(&TrainEvent),
    ) -> Result<Feed> {
        let suffix_start = match config.mode {
            Mode::Head | Mode::Auto => None,
            Mode::Partial { blocks } => match net.backbone().split_blocks() {
                Some(count) => Some(count.saturating_sub(blocks)),
                None => return Ok(Feed::Images),
            },
            Mode::Full => return Ok(Feed::Images),
        };
        // A run of E epochs sees at most E views of an item: more cached variants than epochs
        // would cost time and never be read.
        let variants = if config.augmenting() {
            config.variants.min(config.epochs.max(1))
        } else {
            0
        };
        // Training items get their variants; validation and test items the plain view only.
        let mut wanted: Vec<(&Sample, usize)> = Vec::new();
        for s in &sets.train {
            wanted.extend((0..=variants).map(|v| (s, v)));
        }
        for s in sets.validation.iter().chain(&sets.test) {
            wanted.push((s, 0));
        }
        let rows: HashMap<(ItemId, usize), usize> = wanted
            .iter()
            .enumerate()
            .map(|(i, (s, v))| ((s.id, *v), i))
            .collect();
        // The shapes of a row, from one plain view.
        let probe = preprocess.to_tensor(
            &[views.load(wanted[0].0, config.seed, VARIANT_STREAM, 0)?],
            device,
        )?;
        let (backbone_part, shallow_part) = frozen_parts(net, &probe, suffix_start)?;
        let key = serde_json::json!({
            "backbone": config.backbone,
            "weights": config.backbone_weights,
            "seed": config.seed,
            "augment": config.augment,
            "background": config.background,
            "variants": variants,
            "side": preprocess.side_px,
            "part": suffix_start,
            "shallow": net.config().shallow,
            "items": wanted.iter().map(|(s, v)| (s.id, *v, s.path.display().to_string())).collect::<Vec<_>>(),
        })
        .to_string();
        let mut cache = FeatureCache::open(
            dir,
            &crate::model::weights::sha256_hex(key.as_bytes()),
            &backbone_part.dims()[1..],
            shallow_part.as_ref().map_or(&[][..], |s| &s.dims()[1..]),
            wanted.len(),
        )?;
        const CHUNK: usize = 32;
        let total = wanted.len();
        let reused = cache.rows_done();
        while !cache.is_complete() {
            ctx.check_cancelled()?;
            let first = cache.rows_done();
            let chunk = &wanted[first..(first + CHUNK).min(total)];
            let images: Vec<RgbImage> = chunk
                .par_iter()
                .map(|(s, v)| views.load(s, config.seed, VARIANT_STREAM, *v as u64))
                .collect::<Result<_>>()?;
            let x = preprocess.to_tensor(&images, device)?;
            let (backbone_part, shallow_part) = frozen_parts(net, &x, suffix_start)?;
            cache.append(&backbone_part, shallow_part.as_ref())?;
            let done = cache.rows_done();
            events(&TrainEvent::Caching { done, total });
            ctx.progress(done as u64, total as u64, "caching backbone features");
        }
        Ok(Feed::Cached {
            cache,
            reused,
            rows,
            variants,
            suffix_start,
        })
    }

    /// What the cache held, where there is one.
    fn report(&self) -> Option<CacheReport> {
        match self {
            Feed::Cached { rows, reused, .. } => Some(CacheReport {
                views: rows.len(),
                reused: *reused,
            }),
            Feed::Images => None,
        }
    }

    /// The network's outputs for a training step on `chosen` (random views when augmenting).
    #[allow(clippy::too_many_arguments)]
    fn train_outputs(
        &self,
        net: &ParallelNetwork,
        chosen: &[&Sample],
        views: &Views,
        preprocess: &Preprocess,
        config: &TrainConfig,
        epoch: usize,
        variant_rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<NetworkOutput> {
        match self {
            Feed::Cached { rows, variants, .. } => {
                let picked: Vec<usize> = chosen
                    .iter()
                    .map(|s| row_of(rows, s.id, variant_rng.random_range(0..=*variants)))
                    .collect::<Result<_>>()?;
                self.cached_outputs(net, &picked, true, device)
            }
            Feed::Images => {
                let images: Vec<RgbImage> = chosen
                    .par_iter()
                    .map(|s| {
                        if config.augmenting() {
                            views.load(s, config.seed, EPOCH_STREAM, epoch as u64)
                        } else {
                            views.load(s, config.seed, VARIANT_STREAM, 0)
                        }
                    })
                    .collect::<Result<_>>()?;
                let x = preprocess.to_tensor(&images, device)?;
                Ok(net.outputs_t(&x, true)?)
            }
        }
    }

    /// The network from cache rows: the shallow branch and the head always, the backbone's
    /// trained blocks in partial mode.
    fn cached_outputs(
        &self,
        net: &ParallelNetwork,
        picked: &[usize],
        train: bool,
        device: &Device,
    ) -> Result<NetworkOutput> {
        let Feed::Cached {
            cache,
            suffix_start,
            ..
        } = self
        else {
            return Err(Error::Model("the feed has no feature cache".into()));
        };
        let (backbone_part, shallow_part) = cache.batch(picked, device)?;
        let pooled = match suffix_start {
            None => backbone_part,
            Some(start) => net
                .backbone()
                .suffix_pooled_t(&backbone_part, *start, train)?,
        };
        Ok(net.outputs_from_parts_t(&pooled, shallow_part.as_ref(), train)?)
    }
}

/// What the frozen part of `net` makes of the batch `x`: pooled features (head mode) or the
/// map entering block `suffix_start`, and the shallow branch's input.
fn frozen_parts(
    net: &ParallelNetwork,
    x: &Tensor,
    suffix_start: Option<usize>,
) -> Result<(Tensor, Option<Tensor>)> {
    let backbone = match suffix_start {
        None => net.backbone().pooled_t(x, false)?,
        Some(start) => net.backbone().prefix(x, start)?,
    };
    Ok((backbone.detach(), net.shallow_input(x)?))
}

fn row_of(rows: &HashMap<(ItemId, usize), usize>, id: ItemId, variant: usize) -> Result<usize> {
    rows.get(&(id, variant))
        .copied()
        .ok_or_else(|| Error::Model(format!("no cached features for item {id}")))
}

/// Measures eq. (5) on a set of plain views.
struct Evaluation<'a> {
    feed: &'a Feed,
    preprocess: &'a Preprocess,
    views: &'a Views,
    config: &'a TrainConfig,
    device: &'a Device,
}

impl Evaluation<'_> {
    fn metrics(
        &self,
        net: &ParallelNetwork,
        set: &[Sample],
        ctx: &JobContext,
    ) -> Result<ClassifyMetrics> {
        let mut acc = MetricsAccumulator::default();
        for batch in set.chunks(self.config.batch_size.max(16)) {
            ctx.check_cancelled()?;
            let logits = match self.feed {
                Feed::Cached { rows, .. } => {
                    let picked: Vec<usize> = batch
                        .iter()
                        .map(|s| row_of(rows, s.id, 0))
                        .collect::<Result<_>>()?;
                    self.feed
                        .cached_outputs(net, &picked, false, self.device)?
                        .logits
                }
                Feed::Images => {
                    let images: Vec<RgbImage> = batch
                        .par_iter()
                        .map(|s| self.views.load(s, self.config.seed, VARIANT_STREAM, 0))
                        .collect::<Result<_>>()?;
                    let x = self.preprocess.to_tensor(&images, self.device)?;
                    net.outputs_t(&x, false)?.logits
                }
            };
            let classifier = net.config().classifier;
            let mut p = classifier.probabilities(&logits)?.to_vec2::<f32>()?;
            as_predictions(classifier, &mut p);
            let y: Vec<Vec<f32>> = batch.iter().map(|s| s.targets.clone()).collect();
            acc.add_rows(&p, &y);
        }
        Ok(acc.finish())
    }
}

/// A NaN or infinite loss ends the run with an error saying where; the last epoch's
/// checkpoint is untouched (it is written only after a finished epoch).
fn check_finite(loss: f64, epoch: usize, step: usize) -> Result<()> {
    if loss.is_finite() {
        return Ok(());
    }
    Err(Error::Model(format!(
        "training diverged: the loss became {loss} at epoch {epoch}, step {step}; the last \
         good checkpoint is kept (resume with a lower learning rate)"
    )))
}

/// The split a trained system was trained, validated and tested on, beside its weights.
pub const SPLIT_FILE: &str = "split.json";

/// A new run's state: the split and the label vocabulary of its training items.
fn new_state(config: &TrainConfig, items: &[Item]) -> Result<RunState> {
    if items.len() < 10 {
        return Err(Error::Invalid(format!(
            "the library has {} items; training needs at least 10 (80/10/10 split)",
            items.len()
        )));
    }
    let pairs: Vec<(ItemId, Option<String>)> =
        items.iter().map(|i| (i.id, i.product.clone())).collect();
    let split = split::split(&pairs, config.seed);
    let by_id: HashMap<ItemId, &Item> = items.iter().map(|i| (i.id, i)).collect();
    let vocabulary = crate::catalog::vocabulary::Vocabulary::from_items(
        split
            .train
            .iter()
            .filter_map(|id| by_id.get(id).map(|i| i.labels.as_slice())),
        &crate::catalog::vocabulary::VocabularyRule::default(),
    );
    let labels: Vec<String> = vocabulary
        .ranked()
        .iter()
        .map(|(l, _)| l.to_string())
        .collect();
    if labels.is_empty() {
        return Err(Error::Invalid(
            "no label occurs on two training items: nothing to learn".into(),
        ));
    }
    Ok(RunState {
        format: checkpoint::STATE_FORMAT,
        config: config.clone(),
        split,
        labels,
        epochs_done: 0,
        best_iou: 0.0,
        best_epoch: 0,
        history: Vec::new(),
    })
}

/// The fraction of training items carrying each label (eq. 2's `f_i`).
fn label_frequencies(set: &[Sample], labels: usize) -> Vec<f32> {
    let mut counts = vec![0.0f32; labels];
    for s in set {
        for (c, t) in counts.iter_mut().zip(&s.targets) {
            *c += t;
        }
    }
    let n = set.len().max(1) as f32;
    counts.iter().map(|c| c / n).collect()
}

fn targets_tensor(samples: &[&Sample], device: &Device) -> Result<Tensor> {
    let labels = samples.first().map_or(0, |s| s.targets.len());
    let flat: Vec<f32> = samples
        .iter()
        .flat_map(|s| s.targets.iter().copied())
        .collect();
    Ok(Tensor::from_vec(flat, (samples.len(), labels), device)?)
}

/// The variables `mode` trains: the head and the shallow branch always; for partial, the
/// backbone's last `blocks` blocks and every layer after them; for full, everything.
fn trainable_vars(varmap: &VarMap, net: &ParallelNetwork, mode: Mode) -> Result<Vec<Var>> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
    // Lite0 keeps its ImageNet classifier (`_fc`), which the parallel network never runs.
    let backbone_names: Vec<String> = net
        .backbone()
        .named_tensors()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !n.starts_with("_fc."))
        .collect();
    let trainable_backbone: Vec<String> = match mode {
        Mode::Head | Mode::Auto => Vec::new(),
        Mode::Full => backbone_names,
        Mode::Partial { blocks } => last_blocks(&backbone_names, blocks),
    };
    let mut out: Vec<(String, Var)> = vars
        .iter()
        .filter(|(name, _)| {
            // Batch norms' running averages are measured, not trained (full mode updates
            // them from each batch's statistics).
            let running = name.contains(".running_");
            !running
                && (!name.starts_with("backbone.")
                    || trainable_backbone
                        .iter()
                        .any(|b| name.strip_prefix("backbone.") == Some(b.as_str())))
        })
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The network over `varmap` with only `trainable` as variables: every other weight is the
/// same storage detached, so the backward pass stops where the trainable part begins
/// instead of computing gradients for frozen blocks that nothing would use. Loading a
/// checkpoint into `varmap` still updates both (they share storage). Frozen batch norms keep
/// their pretrained running averages.
fn frozen_except(
    varmap: &VarMap,
    trainable: &[Var],
    config: &NetworkConfig,
    device: &Device,
) -> Result<ParallelNetwork> {
    let vars: HashMap<String, Var> = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?
        .clone();
    let trainable: HashSet<TensorId> = trainable.iter().map(|v| v.as_tensor().id()).collect();
    let backend = Freezing { vars, trainable };
    let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone());
    Ok(ParallelNetwork::new(vb, config)?)
}

/// The network on `varmap`'s variables themselves (for inference after training steps on
/// a [`frozen_except`] network: Lite0's folded inference weights are cached per instance,
/// so a new instance folds the current weights).
fn varmap_net(varmap: &VarMap, config: &NetworkConfig, device: &Device) -> Result<ParallelNetwork> {
    let vb = VarBuilder::from_varmap(varmap, DType::F32, device);
    Ok(ParallelNetwork::new(vb, config)?)
}

/// [`frozen_except`]'s variable source.
struct Freezing {
    vars: HashMap<String, Var>,
    trainable: HashSet<TensorId>,
}

impl SimpleBackend for Freezing {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        _init: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.get_unchecked(name, dtype, device)?;
        if t.shape() != &shape {
            candle_core::bail!("{name}: shape {:?}, expected {:?}", t.dims(), shape.dims())
        }
        Ok(t)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _device: &Device,
    ) -> candle_core::Result<Tensor> {
        let Some(var) = self.vars.get(name) else {
            candle_core::bail!("{name}: not among the network's variables")
        };
        let t = var.as_tensor();
        Ok(if self.trainable.contains(&t.id()) {
            t.clone()
        } else {
            t.detach()
        })
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }
}

/// The block a backbone tensor belongs to: `_blocks.7` (Lite0), `blocks.5.2` (timm
/// EfficientNet), `layer4.2` (ResNet); `None` for the stem and head layers.
fn block_of(name: &str) -> Option<String> {
    let parts: Vec<&str> = name.split('.').collect();
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty();
    match parts.first() {
        Some(&"_blocks") | Some(&"blocks") => {
            let n = parts[1..].iter().take_while(|p| numeric(p)).count();
            Some(parts[..=n].join("."))
        }
        Some(first) if first.starts_with("layer") && parts.len() > 1 && numeric(parts[1]) => {
            Some(parts[..2].join("."))
        }
        _ => None,
    }
}

/// The tensors (in forward order) of the last `blocks` blocks and of every layer after them.
fn last_blocks(names: &[String], blocks: usize) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for name in names {
        if let Some(b) = block_of(name)
            && order.last() != Some(&b)
        {
            order.push(b);
        }
    }
    let first_kept = order.len().saturating_sub(blocks);
    let Some(first_block) = order.get(first_kept) else {
        return Vec::new();
    };
    let start = names
        .iter()
        .position(|n| block_of(n).as_ref() == Some(first_block))
        .unwrap_or(names.len());
    names[start..].to_vec()
}

/// The epochs of the run `name` in the library at `root` (from its checkpoint state), for
/// plotting a past run.
pub fn run_history(root: &Path, name: &str) -> Result<Vec<EpochStats>> {
    Ok(RunState::load(&run_dir(root, name))?.history)
}

/// A few augmented views of the library's first items, as training would draw them: for
/// the Train panel's preview grid (mask quality is visible there).
pub fn preview(lib: &Library, config: &TrainConfig, count: usize) -> Result<Vec<RgbImage>> {
    let kind = BackboneKind::parse(&config.backbone)?;
    let views = Views {
        side: kind.preprocess().side_px.min(160),
        augment: config.augment,
        scenes: config.background.scenes()?,
        ranges: config.augment_ranges(),
    };
    let items = lib.store.item_images()?;
    items
        .iter()
        .take(count)
        .enumerate()
        .map(|(i, item)| {
            let shop = crate::vision::decode(&lib.resolve(&item.image))?;
            let mut rng = stream(config.seed, VARIANT_STREAM, item.id as u64, i as u64 + 1);
            views.view(&shop, config.augmenting(), &mut rng)
        })
        .collect()
}

/// Eq. (5) of a trained system on its own test split (`split.json` beside its weights).
pub fn evaluate_classification(
    lib: &Library,
    system: &System,
    ctx: &JobContext,
) -> Result<ClassifyMetrics> {
    if system.name() == IMAGENET_LITE0 {
        return Err(Error::Invalid(format!(
            "{IMAGENET_LITE0} has no classifier for this library's labels (it predicts the 1000 \
             ImageNet classes); train a system with `vitrine train` and evaluate that"
        )));
    }
    let split_path = system::system_dir(lib.root(), system.name()).join(SPLIT_FILE);
    let bytes = std::fs::read(&split_path).map_err(|e| Error::io(&split_path, e))?;
    let split: Split = serde_json::from_slice(&bytes)
        .map_err(|e| Error::file(&split_path, format!("not a data split: {e}")))?;
    let index: HashMap<&str, usize> = system
        .labels()
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let items: HashMap<ItemId, Item> = lib
        .store
        .items(&ItemFilter::default())?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let test: Vec<&Item> = split.test.iter().filter_map(|id| items.get(id)).collect();
    if test.is_empty() {
        return Err(Error::Invalid(format!(
            "none of the test items of {} is in the library any more",
            system.name()
        )));
    }
    let preprocess = system.preprocess();
    let mut acc = MetricsAccumulator::default();
    for (b, batch) in test.chunks(32).enumerate() {
        ctx.check_cancelled()?;
        ctx.progress(
            (b * 32) as u64,
            test.len() as u64,
            "classifying the test split",
        );
        let paths: Vec<PathBuf> = batch.iter().map(|item| lib.resolve(&item.image)).collect();
        let images: Vec<RgbImage> = paths
            .par_iter()
            .map(|path| preprocess.load(path))
            .collect::<Result<_>>()?;
        let x = preprocess.to_tensor(&images, system.device())?;
        let mut p = system.predict(&x)?.to_vec2::<f32>()?;
        as_predictions(system.classifier(), &mut p);
        for (item, row) in batch.iter().zip(&p) {
            let mut y = vec![0.0f32; row.len()];
            for label in &item.labels {
                if let Some(&i) = index.get(label.to_string().as_str()) {
                    y[i] = 1.0;
                }
            }
            acc.add(row, &y);
        }
    }
    Ok(acc.finish())
}

#[cfg(test)]
mod tests;

/// What `vitrine bench train` measures of one training mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepBench {
    /// `head`, `partial`, `partial-cached` or `full`.
    pub mode: String,
    /// Images per second of optimisation steps (median step).
    pub images_per_s: f64,
    /// Weights the mode trains.
    pub trainable_parameters: usize,
    /// The process's peak resident memory while the mode was set up and timed (Linux; `None`
    /// elsewhere).
    pub peak_rss_bytes: Option<u64>,
}

/// Training throughput of `mode` on this machine: images per second of optimisation steps
/// (forward, eq. 3, backward, AdamW) at `batch`, on random input, after one warm-up step, as
/// the median of `steps` timed steps. Head mode reads random "cached" features and the
/// shallow branch's input; partial mode runs the frozen prefix in inference, or with
/// `cached_prefix` reads its (cached) output instead, which is what a training epoch costs
/// once the cache is built. Decoding and augmentation are excluded in every mode.
pub fn step_throughput(
    mode: Mode,
    cached_prefix: bool,
    batch: usize,
    steps: usize,
    device: &Device,
) -> Result<StepBench> {
    let _retain = crate::RetainFreedMemory::new();
    reset_peak_rss();
    let labels = 64;
    let config = NetworkConfig {
        label_count: labels,
        ..NetworkConfig::lite0(labels)
    };
    let varmap = VarMap::new();
    let weights = system::find_weights(LITE0_WEIGHTS_FILE)?;
    let fresh = ParallelNetwork::fresh(&varmap, &config, &weights, device)?;
    let trainable = trainable_vars(&varmap, &fresh, mode)?;
    let trainable_parameters = trainable.iter().map(|v| v.elem_count()).sum();
    let net = match mode {
        Mode::Partial { .. } => frozen_except(&varmap, &trainable, &config, device)?,
        Mode::Head | Mode::Full | Mode::Auto => fresh,
    };
    let mut optimizer = AdamW::new(trainable, ParamsAdamW::default())?;
    let side = Preprocess::LITE0.side_px as usize;
    let x = Tensor::rand(-1f32, 1.0, (batch, 3, side, side), device)?;
    let small = net.shallow_input(&x)?;
    let pooled = Tensor::rand(0f32, 1.0, (batch, config.backbone_dim), device)?;
    let start = match mode {
        Mode::Partial { blocks } => {
            let count = net.backbone().split_blocks().ok_or_else(|| {
                Error::Model("this backbone cannot be split for partial training".into())
            })?;
            Some(count.saturating_sub(blocks))
        }
        Mode::Head | Mode::Full | Mode::Auto => None,
    };
    let cached = match (start, cached_prefix) {
        (Some(start), true) => Some(net.backbone().prefix(&x, start)?),
        _ => None,
    };
    let targets = Tensor::rand(0f32, 1.0, (batch, labels), device)?
        .ge(0.9)?
        .to_dtype(DType::F32)?;
    let label_weights = Tensor::ones(labels, DType::F32, device)?;
    let mut times = Vec::new();
    for i in 0..=steps.max(1) {
        let step_start = Instant::now();
        let out = match (mode, start) {
            (Mode::Head | Mode::Auto, _) => {
                net.outputs_from_parts_t(&pooled, small.as_ref(), true)?
            }
            (Mode::Partial { .. }, Some(start)) => {
                let h = match &cached {
                    Some(h) => h.clone(),
                    None => net.backbone().prefix(&x, start)?,
                };
                let pooled = net.backbone().suffix_pooled_t(&h, start, true)?;
                let small = net.shallow_input(&x)?;
                net.outputs_from_parts_t(&pooled, small.as_ref(), true)?
            }
            _ => net.outputs_t(&x, true)?,
        };
        let parts = loss::paper_loss(&out.logits, &targets, &label_weights)?;
        optimizer.backward_step(&parts.loss)?;
        if i > 0 {
            times.push(step_start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    let name = match (mode, cached_prefix) {
        (Mode::Partial { .. }, true) => "partial-cached".to_string(),
        _ => mode.name().to_string(),
    };
    Ok(StepBench {
        mode: name,
        images_per_s: batch as f64 / times[times.len() / 2].max(1e-9),
        trainable_parameters,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Resets the kernel's record of this process's peak resident memory (Linux ≥ 4.0), so that
/// [`peak_rss_bytes`] measures from here on.
pub fn reset_peak_rss() {
    #[cfg(target_os = "linux")]
    {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
    }
}

/// This process's peak resident memory (`VmHWM`), where the system reports it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
