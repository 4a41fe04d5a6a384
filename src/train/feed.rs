//! What the optimisation steps and the evaluations read: views of the samples (plain or
//! augmented, from random streams independent of order and threads), and the [`Feed`] that
//! serves the network's outputs from the feature cache of the frozen part or from decoded
//! images.

use super::augment::{AugmentRanges, Transform};
use super::background::{self, SceneSource};
use super::cache::FeatureCache;
use super::data::Sample;
use super::metrics::{ClassifyMetrics, MetricsAccumulator, as_predictions};
use super::run::RunSetup;
use super::{BACKGROUND_PROBABILITY, CacheReport, Mode, TrainEvent};
use crate::catalog::ItemId;
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::model::network::{NetworkOutput, ParallelNetwork};
use crate::vision::preprocess::{WHITE, letterbox};
use candle_core::{Device, Tensor};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::HashMap;

/// How views of an item are drawn.
#[derive(Debug, Clone)]
pub(super) struct Views {
    pub(super) side: u32,
    pub(super) augment: bool,
    pub(super) scenes: Option<SceneSource>,
    pub(super) ranges: AugmentRanges,
}

impl Views {
    /// The plain view (as search and evaluation see an item) or an augmented one from `rng`.
    pub(super) fn view(
        &self,
        shop: &RgbImage,
        augmented: bool,
        rng: &mut ChaCha8Rng,
    ) -> Result<RgbImage> {
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
    pub(super) fn load(
        &self,
        sample: &Sample,
        seed: u64,
        purpose: u64,
        index: u64,
    ) -> Result<RgbImage> {
        let shop = crate::vision::decode(&sample.path)?;
        let mut rng = stream(seed, purpose, sample.id as u64, index);
        self.view(&shop, index > 0 || purpose == EPOCH_STREAM, &mut rng)
    }
}

/// Random-stream purposes.
pub(super) const VARIANT_STREAM: u64 = 1;
pub(super) const EPOCH_STREAM: u64 = 2;
pub(super) const SHUFFLE_STREAM: u64 = 3;

/// A random stream for (seed, purpose, a, b), independent of order and threads.
pub(super) fn stream(seed: u64, purpose: u64, a: u64, b: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream((purpose << 56) ^ b);
    rng
}

/// What the optimisation steps read.
pub(super) enum Feed {
    /// Rows of the feature cache (see [`cache`](super::cache)): the frozen part ran once per view.
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
    ///
    /// This is the run's step that builds the frozen part's cache: what a mode does not train
    /// runs once per view here instead of once per epoch, and the cache is on disk, so a
    /// resumed or repeated run reads the rows already written instead of computing them
    /// again.
    pub(super) fn new(
        setup: &RunSetup,
        net: &ParallelNetwork,
        ctx: &JobContext,
        events: &mut dyn FnMut(&TrainEvent),
    ) -> Result<Feed> {
        let RunSetup {
            dir,
            config,
            preprocess,
            views,
            sets,
            device,
            ..
        } = setup;
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
    pub(super) fn report(&self) -> Option<CacheReport> {
        match self {
            Feed::Cached { rows, reused, .. } => Some(CacheReport {
                views: rows.len(),
                reused: *reused,
            }),
            Feed::Images => None,
        }
    }

    /// The network's outputs for a training step on `chosen` (random views when augmenting).
    pub(super) fn train_outputs(
        &self,
        net: &ParallelNetwork,
        setup: &RunSetup,
        chosen: &[&Sample],
        epoch: usize,
        variant_rng: &mut ChaCha8Rng,
    ) -> Result<NetworkOutput> {
        let RunSetup {
            config,
            preprocess,
            views,
            device,
            ..
        } = setup;
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
pub(super) struct Evaluation<'a> {
    pub(super) feed: &'a Feed,
    pub(super) setup: &'a RunSetup,
}

impl Evaluation<'_> {
    pub(super) fn metrics(
        &self,
        net: &ParallelNetwork,
        set: &[Sample],
        ctx: &JobContext,
    ) -> Result<ClassifyMetrics> {
        let RunSetup {
            config,
            preprocess,
            views,
            device,
            ..
        } = self.setup;
        let mut acc = MetricsAccumulator::default();
        for batch in set.chunks(config.batch_size.max(16)) {
            ctx.check_cancelled()?;
            let logits = match self.feed {
                Feed::Cached { rows, .. } => {
                    let picked: Vec<usize> = batch
                        .iter()
                        .map(|s| row_of(rows, s.id, 0))
                        .collect::<Result<_>>()?;
                    self.feed
                        .cached_outputs(net, &picked, false, device)?
                        .logits
                }
                Feed::Images => {
                    let images: Vec<RgbImage> = batch
                        .par_iter()
                        .map(|s| views.load(s, config.seed, VARIANT_STREAM, 0))
                        .collect::<Result<_>>()?;
                    let x = preprocess.to_tensor(&images, device)?;
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
