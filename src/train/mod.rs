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
//! * **head**: the backbone *and the shallow branch* are frozen, so the concatenated
//!   features `[pooled ‖ shallow]` are computed once and cached (on disk, so a resumed run
//!   does not compute them again); only the embedding layer and the classifier train. With
//!   augmentation, the cache holds a fixed number of augmented *variants* per training item,
//!   drawn once; each epoch takes one of them per item at random. Why freeze the shallow
//!   branch too: training it needs every variant's pixels every epoch, and Candle's CPU
//!   convolution backward limits that to ~22 images/s on 2 cores (`vitrine bench train`),
//!   half an hour for a 2000-item demo run, against seconds for the head alone. Its
//!   Kaiming-initialised filters, ReLU and global mean/max already pass colour and texture
//!   statistics on as random projections, which the trained embedding layer learns to read;
//!   *partial* and *full* modes train it.
//! * **partial**: the last N blocks of the backbone (and what follows them) train too; every
//!   epoch draws a new augmentation of every item. The backbone runs in training mode (batch
//!   statistics).
//! * **full**: every weight trains (a GPU is advised).
//!
//! ## Augmentation
//! Regular augmentation ([`augment`]) flips, rotates, shifts and shears; background
//! augmentation ([`background`]) cuts the item out and pastes it on a scene (with
//! probability [`BACKGROUND_PROBABILITY`], so plain shop photos are still seen).

pub mod augment;
pub mod background;
pub mod checkpoint;
pub mod loss;
pub mod metrics;
pub mod split;

use crate::catalog::{Item, ItemId};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::network::{NetworkConfig, ParallelNetwork};
use crate::model::system::{self, IMAGENET_LITE0, LITE0_WEIGHTS_FILE, System};
use crate::model::weights::write_safetensors;
use crate::store::ItemFilter;
use crate::vision::preprocess::{Preprocess, WHITE, letterbox};
use augment::{AugmentRanges, Transform};
use background::SceneSource;
use candle_core::{DType, Device, IndexOp, Shape, Tensor, TensorId, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use checkpoint::{RunState, load_vars, run_dir, save_vars};
use image::RgbImage;
use metrics::{ClassifyMetrics, MetricsAccumulator};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use split::Split;
use std::collections::{BTreeMap, HashMap, HashSet};
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
}

impl Mode {
    /// `head`, `partial` (with `blocks`) or `full`.
    pub fn parse(name: &str, blocks: usize) -> Result<Mode> {
        match name.trim().to_ascii_lowercase().as_str() {
            "head" => Ok(Mode::Head),
            "partial" => Ok(Mode::Partial { blocks }),
            "full" => Ok(Mode::Full),
            other => Err(Error::Invalid(format!(
                "unknown training mode {other:?}: use head, partial or full"
            ))),
        }
    }

    /// The mode's name.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Head => "head",
            Mode::Partial { .. } => "partial",
            Mode::Full => "full",
        }
    }
}

/// Where new backgrounds come from, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackgroundAug {
    Off,
    /// The demo generator's procedural scenes.
    Procedural,
    /// Scene photos in a folder.
    Folder(PathBuf),
}

impl BackgroundAug {
    /// `off`, `procedural`, or a folder path.
    pub fn parse(spec: &str) -> BackgroundAug {
        match spec.trim() {
            "off" | "" => BackgroundAug::Off,
            "procedural" => BackgroundAug::Procedural,
            dir => BackgroundAug::Folder(PathBuf::from(dir)),
        }
    }

    /// How the CLI and the systems table say it.
    pub fn describe(&self) -> String {
        match self {
            BackgroundAug::Off => "off".into(),
            BackgroundAug::Procedural => "procedural".into(),
            BackgroundAug::Folder(dir) => dir.display().to_string(),
        }
    }

    fn scenes(&self) -> Result<Option<SceneSource>> {
        Ok(match self {
            BackgroundAug::Off => None,
            BackgroundAug::Procedural => Some(SceneSource::Procedural),
            BackgroundAug::Folder(dir) => Some(SceneSource::folder(dir)?),
        })
    }
}

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
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub dropout: f32,
    pub embedding_dim: usize,
    /// Regular augmentation (flip, rotation, shift, shear).
    pub augment: bool,
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
            learning_rate: 2e-3,
            weight_decay: 1e-2,
            dropout: 0.3,
            embedding_dim: 512,
            augment: true,
            background: BackgroundAug::Off,
            variants: 4,
            patience: 4,
            seed: 7,
        }
    }
}

impl TrainConfig {
    /// Whether any augmentation is on.
    pub fn augmenting(&self) -> bool {
        self.augment || self.background != BackgroundAug::Off
    }

    fn check(&self) -> Result<()> {
        if !system::is_valid_system_name(&self.name) || self.name == IMAGENET_LITE0 {
            return Err(Error::Invalid(format!(
                "{:?} cannot name a trained system: use 1–64 characters of a-z, 0-9, '.', '_' \
                 and '-' (not {IMAGENET_LITE0})",
                self.name
            )));
        }
        if self.batch_size == 0 {
            return Err(Error::Invalid("the batch size must be at least 1".into()));
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

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// The mean of eq. (3) over the epoch's steps.
    pub train_loss: f64,
    /// The mean of eq. (1) alone.
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
    // The name (a folder under the library) is checked before anything is read or written,
    // `resume` included.
    config.check()?;
    let start = Instant::now();
    let dir = run_dir(lib.root(), &config.name);
    let items = lib.store.items(&ItemFilter::default())?;
    let mut state = if resume {
        let mut state = RunState::load(&dir)?;
        // The run continues as it started; only more epochs may be asked for.
        state.config.epochs = state.config.epochs.max(config.epochs);
        state
    } else {
        config.check()?;
        new_state(config, &items)?
    };
    let resumed_from = resume.then_some(state.epochs_done);
    let config = state.config.clone();
    let kind = BackboneKind::parse(&config.backbone)?;
    let weights_path = backbone_weights(&config, kind)?;
    let preprocess = kind.preprocess();

    // The samples of each part, with their targets.
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
                        "item {id} of the run {:?} is no longer in the library; start a new run",
                        config.name
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
    let train_set = samples_of(&state.split.train)?;
    let validation_set = samples_of(&state.split.validation)?;
    let test_set = samples_of(&state.split.test)?;

    let views = Views {
        side: preprocess.side_px,
        augment: config.augment,
        scenes: config.background.scenes()?,
        ranges: AugmentRanges::default(),
    };
    let net_config = NetworkConfig {
        backbone: kind.as_str().into(),
        backbone_dim: kind.feature_dim(),
        embedding_dim: config.embedding_dim,
        dropout: config.dropout,
        label_count: state.labels.len(),
        ..NetworkConfig::lite0(state.labels.len())
    };
    let varmap = VarMap::new();
    let fresh = ParallelNetwork::fresh(&varmap, &net_config, &weights_path, device)?;
    if resume && state.epochs_done > 0 {
        load_vars(&varmap, &dir.join("last.safetensors"), device)?;
    }
    let trainable = trainable_vars(&varmap, &fresh, config.mode)?;
    // Partial mode trains a network whose frozen weights are detached (`frozen_except`);
    // validation and the saved system read the variables themselves (`varmap_net`).
    let partial_net = match config.mode {
        Mode::Partial { .. } => Some(frozen_except(&varmap, &trainable, &net_config, device)?),
        Mode::Head | Mode::Full => None,
    };
    let train_net = partial_net.as_ref().unwrap_or(&fresh);
    let settled_net = || -> Result<Option<ParallelNetwork>> {
        match partial_net {
            Some(_) => Ok(Some(varmap_net(&varmap, &net_config, device)?)),
            None => Ok(None),
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;

    // Head mode: the frozen backbone's features, cached.
    let variants = if config.augmenting() {
        config.variants
    } else {
        0
    };
    let cache = match config.mode {
        Mode::Head => Some(FeatureCache::build(
            &dir,
            &fresh,
            &preprocess,
            &views,
            &config,
            variants,
            [&train_set[..], &validation_set[..], &test_set[..]],
            device,
            ctx,
            events,
        )?),
        _ => None,
    };

    let frequencies = label_frequencies(&train_set, state.labels.len());
    let weights = Tensor::new(loss::label_weights(&frequencies), device)?;
    let mut optimizer = AdamW::new(
        trainable,
        ParamsAdamW {
            lr: config.learning_rate,
            weight_decay: config.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;

    let evaluate = |set: &[Sample], ctx: &JobContext| -> Result<ClassifyMetrics> {
        let settled = settled_net()?;
        evaluate_set(
            settled.as_ref().unwrap_or(&fresh),
            cache.as_ref(),
            &preprocess,
            &views,
            &config,
            set,
            device,
            ctx,
        )
    };
    if state.epochs_done == 0 && state.history.is_empty() {
        // The untrained network is the baseline the first epoch must beat.
        state.best_iou = evaluate(&validation_set, ctx)?.iou;
        state.best_epoch = 0;
        save_vars(&varmap, &dir.join("best.safetensors"))?;
        state.save(&dir)?;
    }

    let steps = train_set.len().div_ceil(config.batch_size);
    let mut stopped_early = false;
    let (mut trained_images, mut train_secs) = (0usize, 0.0f64);
    while state.epochs_done < config.epochs {
        if state.epochs_done - state.best_epoch >= config.patience.max(1) && state.epochs_done > 0 {
            stopped_early = true;
            break;
        }
        let epoch = state.epochs_done + 1;
        let epoch_start = Instant::now();
        let mut order: Vec<usize> = (0..train_set.len()).collect();
        order.shuffle(&mut stream(config.seed, SHUFFLE_STREAM, 0, epoch as u64));
        let mut variant_rng = stream(config.seed, SHUFFLE_STREAM, 1, epoch as u64);
        let (mut loss_sum, mut bce_sum) = (0.0f64, 0.0f64);
        for (step, batch) in order.chunks(config.batch_size).enumerate() {
            ctx.check_cancelled()?;
            let step_start = Instant::now();
            let chosen: Vec<&Sample> = batch.iter().map(|&i| &train_set[i]).collect();
            let targets = targets_tensor(&chosen, device)?;
            let logits = match &cache {
                Some(cache) => {
                    let rows: Vec<usize> = chosen
                        .iter()
                        .map(|s| cache.row(s.id, variant_rng.random_range(0..=variants)))
                        .collect::<Result<_>>()?;
                    train_net
                        .outputs_from_concat_t(&cache.rows(&rows)?, true)?
                        .logits
                }
                None => {
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
                    train_net.outputs_t(&x, true)?.logits
                }
            };
            let parts = loss::paper_loss(&logits, &targets, &weights)?;
            let value = f64::from(parts.loss.to_scalar::<f32>()?);
            check_finite(value, epoch, step + 1)?;
            optimizer.backward_step(&parts.loss)?;
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
        let validation = evaluate(&validation_set, ctx)?;
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

    // The best epoch's weights become the system.
    load_vars(&varmap, &dir.join("best.safetensors"), device)?;
    let validation = evaluate(&validation_set, ctx)?;
    let test = evaluate(&test_set, ctx)?;
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
        train_items: train_set.len(),
        validation_items: validation_set.len(),
        test_items: test_set.len(),
        validation,
        test,
        images_per_s,
        elapsed_secs: start.elapsed().as_secs_f64(),
        history: state.history.clone(),
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
    let settled = settled_net()?;
    System::save_trained(
        lib,
        &config.name,
        settled.as_ref().unwrap_or(&fresh),
        &preprocess,
        &state.labels,
        &metrics,
    )?;
    let split_json = serde_json::to_vec_pretty(&state.split)
        .map_err(|e| Error::Invalid(format!("cannot describe the split: {e}")))?;
    crate::model::weights::write_atomically(
        &system::system_dir(lib.root(), &config.name).join(SPLIT_FILE),
        &split_json,
    )?;
    Ok(report)
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

/// The variables `mode` trains: the head always, the shallow branch unless in head mode; for partial, the
/// backbone's last `blocks` blocks and every layer after them; for full, everything.
fn trainable_vars(varmap: &VarMap, net: &ParallelNetwork, mode: Mode) -> Result<Vec<Var>> {
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Model("the variable map is poisoned".into()))?;
    let backbone_names: Vec<String> = net
        .backbone()
        .named_tensors()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let trainable_backbone: Vec<String> = match mode {
        Mode::Head => Vec::new(),
        Mode::Full => backbone_names,
        Mode::Partial { blocks } => last_blocks(&backbone_names, blocks),
    };
    let mut out: Vec<(String, Var)> = vars
        .iter()
        .filter(|(name, _)| {
            // Head mode trains on cached [backbone ‖ shallow] features (module docs).
            let frozen_shallow = mode == Mode::Head && name.starts_with("shallow.");
            !frozen_shallow && !name.starts_with("backbone.")
                || trainable_backbone
                    .iter()
                    .any(|b| name.strip_prefix("backbone.") == Some(b.as_str()))
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

/// Eq. (5) of `net` on a set (plain views), with the cache's features in head mode.
#[allow(clippy::too_many_arguments)]
fn evaluate_set(
    net: &ParallelNetwork,
    cache: Option<&FeatureCache>,
    preprocess: &Preprocess,
    views: &Views,
    config: &TrainConfig,
    set: &[Sample],
    device: &Device,
    ctx: &JobContext,
) -> Result<ClassifyMetrics> {
    let mut acc = MetricsAccumulator::default();
    for batch in set.chunks(config.batch_size.max(16)) {
        ctx.check_cancelled()?;
        let logits = match cache {
            Some(cache) => {
                let rows: Vec<usize> = batch
                    .iter()
                    .map(|s| cache.row(s.id, 0))
                    .collect::<Result<_>>()?;
                net.outputs_from_concat_t(&cache.rows(&rows)?, false)?
                    .logits
            }
            None => {
                let images: Vec<RgbImage> = batch
                    .par_iter()
                    .map(|s| views.load(s, config.seed, VARIANT_STREAM, 0))
                    .collect::<Result<_>>()?;
                let x = preprocess.to_tensor(&images, device)?;
                net.outputs_t(&x, false)?.logits
            }
        };
        let p = candle_nn::ops::sigmoid(&logits)?.to_vec2::<f32>()?;
        let y: Vec<Vec<f32>> = batch.iter().map(|s| s.targets.clone()).collect();
        acc.add_rows(&p, &y);
    }
    Ok(acc.finish())
}

/// Head mode's cache of the frozen backbone's pooled features: one row per (item, variant),
/// kept in `features.safetensors` with a key of everything that decides them.
struct FeatureCache {
    features: Tensor,
    rows: HashMap<(ItemId, usize), usize>,
}

impl FeatureCache {
    #[allow(clippy::too_many_arguments)]
    fn build(
        dir: &Path,
        net: &ParallelNetwork,
        preprocess: &Preprocess,
        views: &Views,
        config: &TrainConfig,
        variants: usize,
        parts: [&[Sample]; 3],
        device: &Device,
        ctx: &JobContext,
        events: &mut dyn FnMut(&TrainEvent),
    ) -> Result<FeatureCache> {
        // Training items get their variants; validation and test items the plain view only.
        let mut wanted: Vec<(&Sample, usize)> = Vec::new();
        for s in parts[0] {
            wanted.extend((0..=variants).map(|v| (s, v)));
        }
        for s in parts[1].iter().chain(parts[2]) {
            wanted.push((s, 0));
        }
        let rows: HashMap<(ItemId, usize), usize> = wanted
            .iter()
            .enumerate()
            .map(|(i, (s, v))| ((s.id, *v), i))
            .collect();
        let key = serde_json::json!({
            "backbone": config.backbone,
            "weights": config.backbone_weights,
            "seed": config.seed,
            "augment": config.augment,
            "background": config.background,
            "variants": variants,
            "side": preprocess.side_px,
            "shallow": shallow_fingerprint(net)?,
            "items": wanted.iter().map(|(s, v)| (s.id, *v, s.path.display().to_string())).collect::<Vec<_>>(),
        })
        .to_string();
        let key = crate::model::weights::sha256_hex(key.as_bytes());
        let path = dir.join("features.safetensors");
        if let Ok(data) = std::fs::read(&path)
            && let Ok((tensors, meta)) = read_with_metadata(&data, device)
            && meta.get("key") == Some(&key)
            && let Some(features) = tensors.get("features")
            && features.dim(0).ok() == Some(wanted.len())
        {
            return Ok(FeatureCache {
                features: features.clone(),
                rows,
            });
        }
        let mut chunks: Vec<Tensor> = Vec::new();
        const CHUNK: usize = 32;
        for (i, chunk) in wanted.chunks(CHUNK).enumerate() {
            ctx.check_cancelled()?;
            let images: Vec<RgbImage> = chunk
                .par_iter()
                .map(|(s, v)| views.load(s, config.seed, VARIANT_STREAM, *v as u64))
                .collect::<Result<_>>()?;
            let x = preprocess.to_tensor(&images, device)?;
            let pooled = net.backbone().pooled_t(&x, false)?;
            chunks.push(net.concat_features(&pooled, &x)?.detach());
            let done = (i * CHUNK + chunk.len()).min(wanted.len());
            events(&TrainEvent::Caching {
                done,
                total: wanted.len(),
            });
            ctx.progress(
                done as u64,
                wanted.len() as u64,
                "caching backbone features",
            );
        }
        let features = Tensor::cat(&chunks, 0)?;
        let meta = BTreeMap::from([("key".to_string(), key)]);
        write_safetensors(&[("features".into(), features.clone())], &meta, &path)?;
        Ok(FeatureCache { features, rows })
    }

    fn row(&self, id: ItemId, variant: usize) -> Result<usize> {
        self.rows
            .get(&(id, variant))
            .copied()
            .ok_or_else(|| Error::Model(format!("no cached features for item {id}")))
    }

    fn rows(&self, rows: &[usize]) -> Result<Tensor> {
        if rows.len() == 1 {
            return Ok(self.features.i(rows[0]..rows[0] + 1)?);
        }
        let index = Tensor::new(
            rows.iter().map(|&r| r as u32).collect::<Vec<_>>(),
            self.features.device(),
        )?;
        Ok(self
            .features
            .index_select(&index, 0)?
            .to_dtype(DType::F32)?)
    }
}

/// The sha256 of the shallow branch's weights: cached features hold its outputs, and a new
/// run starts it from new random weights.
fn shallow_fingerprint(net: &ParallelNetwork) -> Result<String> {
    let mut bytes = Vec::new();
    for (name, t) in net.named_tensors() {
        if name.starts_with("shallow.") {
            bytes.extend(name.as_bytes());
            for v in t.flatten_all()?.to_vec1::<f32>()? {
                bytes.extend(v.to_le_bytes());
            }
        }
    }
    Ok(crate::model::weights::sha256_hex(&bytes))
}

/// A safetensors buffer's tensors and header metadata.
fn read_with_metadata(
    data: &[u8],
    device: &Device,
) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let (_, header) = safetensors::SafeTensors::read_metadata(data)
        .map_err(|e| Error::Model(format!("cache header: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let tensors = candle_core::safetensors::load_buffer(data, device)?;
    Ok((tensors, meta))
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
        ranges: AugmentRanges::default(),
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
        let p = system.predict(&x)?.to_vec2::<f32>()?;
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

/// Training throughput of `mode` on this machine: images per second of optimisation steps
/// (forward, eq. 3, backward, AdamW) at `batch`, on random input, after one warm-up step, as
/// the median of `steps` timed steps. Head mode reads random "cached" features, so its figure
/// excludes the once-only feature caching; image decoding and augmentation are excluded in
/// every mode.
pub fn step_throughput(mode: Mode, batch: usize, steps: usize, device: &Device) -> Result<f64> {
    let labels = 64;
    let config = NetworkConfig {
        label_count: labels,
        ..NetworkConfig::lite0(labels)
    };
    let varmap = VarMap::new();
    let weights = system::find_weights(LITE0_WEIGHTS_FILE)?;
    let fresh = ParallelNetwork::fresh(&varmap, &config, &weights, device)?;
    let trainable = trainable_vars(&varmap, &fresh, mode)?;
    let net = match mode {
        Mode::Partial { .. } => frozen_except(&varmap, &trainable, &config, device)?,
        Mode::Head | Mode::Full => fresh,
    };
    let mut optimizer = AdamW::new(trainable, ParamsAdamW::default())?;
    let side = Preprocess::LITE0.side_px as usize;
    let x = Tensor::rand(-1f32, 1.0, (batch, 3, side, side), device)?;
    let pooled = Tensor::rand(0f32, 1.0, (batch, config.concat_dim()), device)?;
    let targets = Tensor::rand(0f32, 1.0, (batch, labels), device)?
        .ge(0.9)?
        .to_dtype(DType::F32)?;
    let label_weights = Tensor::ones(labels, DType::F32, device)?;
    let mut times = Vec::new();
    for i in 0..=steps.max(1) {
        let start = Instant::now();
        let out = match mode {
            Mode::Head => net.outputs_from_concat_t(&pooled, true)?,
            _ => net.outputs_t(&x, true)?,
        };
        let parts = loss::paper_loss(&out.logits, &targets, &label_weights)?;
        optimizer.backward_step(&parts.loss)?;
        if i > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(batch as f64 / times[times.len() / 2].max(1e-9))
}
