//! One training run, step by step, in the order [`train`](super::train) takes them: the
//! setup (state, samples, views), the network and the variables that train, the epoch loop
//! with its validation and checkpoints, and the system saved at the end.

use super::checkpoint::{RunState, load_vars, run_dir, save_vars};
use super::data::{Sample, Sets, label_frequencies, new_state, targets_tensor};
use super::feed::{Evaluation, Feed, SHUFFLE_STREAM, Views, stream};
use super::metrics::SystemMetrics;
use super::optim::AdamW;
use super::trainable::{add_grads, backbone_groups, frozen_except, trainable_vars, varmap_net};
use super::{EpochStats, Mode, SPLIT_FILE, TrainConfig, TrainEvent, TrainReport, loss, plan};
use crate::error::{Error, Result};
use crate::jobs::JobContext;
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::network::{Classifier, NetworkConfig, ParallelNetwork};
use crate::model::system::{self, System};
use crate::store::ItemFilter;
use crate::vision::preprocess::Preprocess;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW, VarMap};
use rand::seq::SliceRandom;
use std::path::PathBuf;
use std::time::Instant;

/// Label smoothing of the single-label loss ([`loss::softmax_loss`]).
const LABEL_SMOOTHING: f64 = 0.1;

/// The backbone weights a config names, or a Lite variant's shipped ones.
pub(super) fn backbone_weights(config: &TrainConfig, kind: BackboneKind) -> Result<PathBuf> {
    match (&config.backbone_weights, kind.shipped_weights_file()) {
        (Some(path), _) => Ok(path.clone()),
        (None, Some(file)) => system::find_weights(file),
        (None, None) => Err(Error::Invalid(format!(
            "training on {kind} needs its pretrained weights: pass --backbone-weights FILE"
        ))),
    }
}

/// What a run reads, fixed before its first step: the parameters that the feature cache,
/// the training steps and the evaluations all take.
pub(super) struct RunSetup {
    /// The run's folder (`DIR/train/<name>/`): its state, checkpoints and feature cache.
    pub dir: PathBuf,
    /// The config the run goes on with: its state's (a resumed run's own, with more epochs
    /// if asked; a new run's with the mode `auto` chose).
    pub config: TrainConfig,
    /// The backbone's kind.
    pub kind: BackboneKind,
    /// The backbone's pretrained weights.
    pub weights_path: PathBuf,
    /// How the backbone wants its input.
    pub preprocess: Preprocess,
    /// The train, validation and test samples, with their targets.
    pub sets: Sets,
    /// How views of a sample are drawn.
    pub views: Views,
    /// The epoch a resumed run continues from (`None` for a new run).
    pub resumed_from: Option<usize>,
    /// Where the network runs.
    pub device: Device,
}

impl RunSetup {
    /// Prepares the data: the run's state (a new run's split and label vocabulary, or a
    /// stopped run's saved state), its samples and how their views are drawn. An unknown
    /// backbone, missing weights, an item gone from the library or a scene folder that cannot
    /// be read fail here, before a network is built or a feature cached.
    pub fn prepare(
        lib: &Library,
        config: &TrainConfig,
        resume: bool,
        device: &Device,
        events: &mut dyn FnMut(&TrainEvent),
    ) -> Result<(RunSetup, RunState)> {
        let dir = run_dir(lib.root(), &config.name);
        let items = lib.store.items(&ItemFilter::default())?;
        let state = if resume {
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
        let preprocess = config.preprocess(kind);
        let sets = Sets::new(lib, &items, &state)?;
        let views = Views {
            side: preprocess.side_px,
            augment: config.augment,
            scenes: config.background.scenes()?,
            ranges: config.augment_ranges(),
        };
        let setup = RunSetup {
            dir,
            config,
            kind,
            weights_path,
            preprocess,
            sets,
            views,
            resumed_from,
            device: device.clone(),
        };
        Ok((setup, state))
    }
}

/// The network of a run and the variables that train.
pub(super) struct Model {
    /// The network's shape.
    config: NetworkConfig,
    /// Every weight by name: what checkpoints save and load.
    varmap: VarMap,
    /// The network on `varmap`'s variables themselves.
    fresh: ParallelNetwork,
    /// The variables the mode trains.
    trainable: Vec<Var>,
    /// Partial mode's network, in which only `trainable` are variables.
    frozen: Option<ParallelNetwork>,
}

impl Model {
    /// Builds the network: the backbone's pretrained weights and a new head, or a resumed
    /// run's checkpoint, so that training continues from the weights it stopped at; and the
    /// variables the mode trains.
    pub fn build(setup: &RunSetup, state: &RunState, resume: bool) -> Result<Model> {
        let RunSetup {
            config,
            kind,
            device,
            ..
        } = setup;
        let net_config = NetworkConfig {
            backbone: kind.as_str().into(),
            backbone_dim: kind.feature_dim(),
            embedding_dim: config.embedding_dim,
            dropout: config.dropout,
            label_count: state.labels.len(),
            classifier: config
                .classifier
                .resolve(&setup.sets.train, state.labels.len()),
            ..NetworkConfig::lite0(state.labels.len())
        };
        let net_config = NetworkConfig {
            shallow: net_config.shallow.filter(|_| config.shallow),
            ..net_config
        };
        let varmap = VarMap::new();
        let fresh = ParallelNetwork::fresh(&varmap, &net_config, &setup.weights_path, device)?;
        if resume {
            // The last finished epoch, or the initial weights a run killed before its first
            // epoch saved (a fresh draw would not match its cached state).
            let last = setup.dir.join("last.safetensors");
            let best = setup.dir.join("best.safetensors");
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
        Ok(Model {
            config: net_config,
            varmap,
            fresh,
            trainable,
            frozen,
        })
    }

    /// The network the steps train and the evaluations measure.
    pub fn net(&self) -> &ParallelNetwork {
        self.frozen.as_ref().unwrap_or(&self.fresh)
    }

    /// The network to save: the best epoch's weights, not the last one's.
    pub fn settled(&self, setup: &RunSetup) -> Result<ParallelNetwork> {
        // The best epoch's weights become the system. A new network reads them: the one that
        // trained keeps folded inference weights of the last epoch.
        load_vars(
            &self.varmap,
            &setup.dir.join("best.safetensors"),
            &setup.device,
        )?;
        Ok(match setup.config.mode {
            Mode::Partial { .. } => {
                let trainable = trainable_vars(&self.varmap, &self.fresh, setup.config.mode)?;
                frozen_except(&self.varmap, &trainable, &self.config, &setup.device)?
            }
            Mode::Head | Mode::Full | Mode::Auto => {
                varmap_net(&self.varmap, &self.config, &setup.device)?
            }
        })
    }
}

/// The optimisation of a run: the optimiser, the loss's label weights, and the throughput of
/// the steps taken so far.
pub(super) struct Trainer<'a> {
    setup: &'a RunSetup,
    model: &'a Model,
    feed: &'a Feed,
    optimizer: AdamW,
    /// The weight of each label in the multi-label loss (eq. 2).
    label_weights: Tensor,
    /// Images through the optimisation steps of this process, and the seconds they took.
    trained_images: usize,
    train_secs: f64,
}

impl<'a> Trainer<'a> {
    /// The optimiser over the variables that train, the backbone's at
    /// [`TrainConfig::backbone_lr_factor`] of the rate (pretrained weights need smaller
    /// steps), and the label weights from the training items' label frequencies.
    pub fn new(setup: &'a RunSetup, model: &'a Model, feed: &'a Feed) -> Result<Trainer<'a>> {
        let config = &setup.config;
        let frequencies = label_frequencies(&setup.sets.train, model.config.label_count);
        let label_weights = Tensor::new(loss::label_weights(&frequencies), &setup.device)?;
        let optimizer = AdamW::with_groups(
            backbone_groups(&model.varmap, &model.trainable, config.backbone_lr_factor)?,
            ParamsAdamW {
                lr: config.learning_rate,
                weight_decay: config.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        Ok(Trainer {
            setup,
            model,
            feed,
            optimizer,
            label_weights,
            trained_images: 0,
            train_secs: 0.0,
        })
    }

    fn evaluation(&self) -> Evaluation<'a> {
        Evaluation {
            feed: self.feed,
            setup: self.setup,
        }
    }

    /// Validates the untrained network of a new run and saves it as the best so far, so that
    /// an epoch's weights are kept only when they beat it.
    pub fn baseline(&self, state: &mut RunState, ctx: &JobContext) -> Result<()> {
        if state.epochs_done == 0 && state.history.is_empty() {
            // The untrained network is the baseline the first epoch must beat.
            let net = self.model.net();
            state.best_iou = self
                .evaluation()
                .metrics(net, &self.setup.sets.validation, ctx)?
                .iou;
            state.best_epoch = 0;
            save_vars(&self.model.varmap, &self.setup.dir.join("best.safetensors"))?;
            state.save(&self.setup.dir)?;
        }
        Ok(())
    }

    /// The epoch loop: trains, validates and checkpoints epoch after epoch until the config's
    /// count, or stops early (returns `true`) once `patience` epochs in a row have not beaten
    /// the best validation IoU: the run has stopped improving, and what is saved is the best
    /// epoch's weights anyway.
    pub fn epochs(
        &mut self,
        state: &mut RunState,
        ctx: &JobContext,
        events: &mut dyn FnMut(&TrainEvent),
    ) -> Result<bool> {
        let setup = self.setup;
        let config = &setup.config;
        while state.epochs_done < config.epochs {
            if state.epochs_done - state.best_epoch >= config.patience.max(1)
                && state.epochs_done > 0
            {
                return Ok(true);
            }
            let epoch = state.epochs_done + 1;
            let epoch_start = Instant::now();
            let (train_loss, train_bce) = self.epoch(epoch, ctx, events)?;
            let validation =
                self.evaluation()
                    .metrics(self.model.net(), &setup.sets.validation, ctx)?;
            let stats = EpochStats {
                epoch,
                train_loss,
                train_bce,
                validation,
                images_per_s: self.images_per_s(),
                elapsed_secs: epoch_start.elapsed().as_secs_f64(),
            };
            self.checkpoint(state, &stats)?;
            events(&TrainEvent::Epoch(stats));
        }
        Ok(false)
    }

    /// One epoch's optimisation steps, over the training items in an order shuffled anew
    /// each epoch (from the run's seed, so a resumed run draws what it would have); the
    /// means of the loss and of its BCE part over the steps.
    fn epoch(
        &mut self,
        epoch: usize,
        ctx: &JobContext,
        events: &mut dyn FnMut(&TrainEvent),
    ) -> Result<(f64, f64)> {
        let setup = self.setup;
        let RunSetup {
            config,
            sets,
            device,
            ..
        } = setup;
        let steps = sets.train.len().div_ceil(config.batch_size);
        self.optimizer.set_learning_rate(
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
            let logits = self
                .feed
                .train_outputs(self.model.net(), setup, &chosen, epoch, &mut variant_rng)?
                .logits;
            let parts = match self.model.config.classifier {
                Classifier::MultiLabel => loss::paper_loss(&logits, &targets, &self.label_weights)?,
                Classifier::SingleLabel => loss::softmax_loss(&logits, &targets, LABEL_SMOOTHING)?,
            };
            let value = f64::from(parts.loss.to_scalar::<f32>()?);
            check_finite(value, epoch, step + 1)?;
            let accumulate = config.accumulate.max(1);
            let grads = if accumulate == 1 {
                parts.loss.backward()?
            } else {
                let grads = (&parts.loss / accumulate as f64)?.backward()?;
                add_grads(pending.take(), grads, &self.model.trainable)?
            };
            if (step + 1) % accumulate == 0 || step + 1 == steps {
                self.optimizer.step(&grads)?;
            } else {
                pending = Some(grads);
            }
            loss_sum += value;
            bce_sum += f64::from(parts.bce);
            let secs = step_start.elapsed().as_secs_f64();
            self.trained_images += chosen.len();
            self.train_secs += secs;
            let images_per_s = self.images_per_s();
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
        Ok((
            loss_sum / steps.max(1) as f64,
            bce_sum / steps.max(1) as f64,
        ))
    }

    /// Training images per second over the steps so far.
    fn images_per_s(&self) -> f64 {
        self.trained_images as f64 / self.train_secs.max(1e-9)
    }

    /// Ends an epoch on disk, so that a cancelled or crashed run resumes after it: its
    /// weights as the last ones (and as the best ones when they beat the best validation IoU
    /// so far), then the state with the epoch in its history.
    fn checkpoint(&self, state: &mut RunState, stats: &EpochStats) -> Result<()> {
        let dir = &self.setup.dir;
        save_vars(&self.model.varmap, &dir.join("last.safetensors"))?;
        if stats.validation.iou > state.best_iou {
            state.best_iou = stats.validation.iou;
            state.best_epoch = stats.epoch;
            save_vars(&self.model.varmap, &dir.join("best.safetensors"))?;
        }
        state.epochs_done = stats.epoch;
        state.history.push(stats.clone());
        state.save(dir)?;
        Ok(())
    }

    /// What the run did, with eq. (5) of the `settled` network (the one that is saved) on the
    /// validation and test splits: the test split is measured here once, never during
    /// training, so its score is not one the run was tuned on.
    pub fn report(
        &self,
        settled: &ParallelNetwork,
        state: &RunState,
        stopped_early: bool,
        start: Instant,
        ctx: &JobContext,
    ) -> Result<TrainReport> {
        let RunSetup { config, sets, .. } = self.setup;
        let validation = self.evaluation().metrics(settled, &sets.validation, ctx)?;
        let test = self.evaluation().metrics(settled, &sets.test, ctx)?;
        let images_per_s = if self.train_secs > 0.0 {
            self.trained_images as f64 / self.train_secs
        } else {
            state.history.last().map_or(0.0, |h| h.images_per_s)
        };
        Ok(TrainReport {
            system: config.name.clone(),
            mode: config.mode.name().into(),
            epochs_run: state.epochs_done,
            best_epoch: state.best_epoch,
            stopped_early,
            resumed_from: self.setup.resumed_from,
            labels: state.labels.len(),
            train_items: sets.train.len(),
            validation_items: sets.validation.len(),
            test_items: sets.test.len(),
            validation,
            test,
            images_per_s,
            elapsed_secs: start.elapsed().as_secs_f64(),
            history: state.history.clone(),
            cache: self.feed.report(),
        })
    }
}

/// Saves the `settled` network as the system of the run's name, so that search, indexing and
/// `eval` can use it at once, with the run's [`SystemMetrics`]; and the split beside it,
/// which `evaluate_classification` tests the system on.
pub(super) fn save_system(
    lib: &mut Library,
    setup: &RunSetup,
    state: &RunState,
    settled: &ParallelNetwork,
    report: &TrainReport,
) -> Result<()> {
    let config = &setup.config;
    let metrics = SystemMetrics::of_run(config, report);
    System::save_trained(
        lib,
        &config.name,
        settled,
        &setup.preprocess,
        &state.labels,
        &metrics.to_value()?,
    )?;
    let split_json = serde_json::to_vec_pretty(&state.split)
        .map_err(|e| Error::Invalid(format!("cannot describe the split: {e}")))?;
    crate::atomic_file::write(
        &system::system_dir(lib.root(), &config.name).join(SPLIT_FILE),
        &split_json,
    )?;
    Ok(())
}

/// A NaN or infinite loss ends the run with an error saying where; the last epoch's
/// checkpoint is untouched (it is written only after a finished epoch).
pub(super) fn check_finite(loss: f64, epoch: usize, step: usize) -> Result<()> {
    if loss.is_finite() {
        return Ok(());
    }
    Err(Error::Model(format!(
        "training diverged: the loss became {loss} at epoch {epoch}, step {step}; the last \
         good checkpoint is kept (resume with a lower learning rate)"
    )))
}
