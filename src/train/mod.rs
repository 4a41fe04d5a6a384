//! Training: fine-tune the parallel network on the library's own catalogue and labels, and
//! register the result as a new system (ARCHITECTURE.md §5; paper §III, §IV.B, §IV.D).
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
mod bench;
pub mod cache;
pub mod checkpoint;
mod data;
mod feed;
pub mod loss;
pub mod metrics;
pub mod optim;
mod options;
pub mod plan;
mod run;
pub mod split;
mod trainable;

pub use bench::{StepBench, peak_rss_bytes, reset_peak_rss, step_throughput};
pub use options::{
    BackgroundAug, COSINE_FLOOR, ClassifierChoice, LrSchedule, MAX_INPUT_SIDE_PX,
    MIN_INPUT_SIDE_PX, Mode, TrainConfig,
};

use crate::catalog::{Item, ItemId};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::system::{self, IMAGENET_LITE0, System};
use crate::store::ItemFilter;
use candle_core::Device;
use checkpoint::{RunState, run_dir};
use feed::{VARIANT_STREAM, Views, stream};
use image::RgbImage;
use metrics::{ClassifyMetrics, MetricsAccumulator, as_predictions};
use rayon::prelude::*;
use run::{Model, RunSetup, Trainer, save_system};
use serde::{Deserialize, Serialize};
use split::Split;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The share of augmented samples that get a new background when background augmentation
/// is on.
pub const BACKGROUND_PROBABILITY: f64 = 0.7;

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

/// Trains a new system in `lib` as `config` says, or resumes the run of that name with
/// `resume`. Progress goes to `ctx` and, in more detail, to `events`.
///
/// The run's steps (`run`): prepare the data, build the network, fill the frozen part's
/// feature cache (`feed`), measure the untrained baseline, the epoch loop (each epoch
/// validated and checkpointed), then the best epoch's network is measured and saved as the
/// system.
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
    let (setup, mut state) = RunSetup::prepare(lib, config, resume, device, events)?;
    let model = Model::build(&setup, &state, resume)?;
    let feed = feed::Feed::new(&setup, model.net(), ctx, events)?;
    let mut trainer = Trainer::new(&setup, &model, &feed)?;
    trainer.baseline(&mut state, ctx)?;
    let stopped_early = trainer.epochs(&mut state, ctx, events)?;
    let settled = model.settled(&setup)?;
    let report = trainer.report(&settled, &state, stopped_early, start, ctx)?;
    save_system(lib, &setup, &state, &settled, &report)?;
    Ok(report)
}

/// The split a trained system was trained, validated and tested on, beside its weights.
pub const SPLIT_FILE: &str = "split.json";

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
        side: config.input_side(kind).min(160),
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
