//! `vitrine train`: fine-tune a system on this library (see [`crate::train`]), with a
//! progress bar and one line per epoch.

use crate::jobs::Job;
use crate::library::Library;
use crate::model::system;
use crate::train::{self, BackgroundAug, Mode, TrainConfig, TrainEvent, TrainReport};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// The backbone: efficientnet-lite0, -lite1 or -lite2 (lite0, lite1, lite2; shipped
    /// weights), resnet50 or efficientnet-b0…b7 (with --backbone-weights).
    #[arg(long, default_value = "efficientnet-lite0")]
    pub backbone: String,
    /// The backbone's pretrained weights (safetensors, timm names) for other backbones.
    #[arg(long, value_name = "FILE")]
    pub backbone_weights: Option<PathBuf>,
    /// The side of the square input the backbone sees, in pixels (64–640; default: the
    /// backbone's own, 224 for efficientnet-lite0, 240 for -lite1, 260 for -lite2). The
    /// system keeps it: index, query and explain use the same size.
    #[arg(long, value_name = "PX")]
    pub size: Option<u32>,
    /// What trains. auto (the default): partial where this catalogue and this machine can
    /// afford it (estimated from a few real images and steps), else head; the run says which
    /// and why. head: the shallow colour branch, the embedding and the classifier, on
    /// backbone features computed once per view and cached (an epoch costs next to nothing
    /// once the cache is built: one backbone pass per cached view). partial: also the
    /// backbone's last --blocks blocks and its head conv, from the cached output of the
    /// frozen blocks before them (Lite0 has 16 blocks; the last 3 work on 7×7 maps, so an
    /// epoch costs a small fraction of a full pass). full: every weight, every image decoded
    /// and augmented anew each epoch (a forward and backward pass of the whole network per
    /// image; several times slower than partial).
    #[arg(long, default_value = "auto")]
    pub mode: String,
    /// Backbone blocks that train in partial mode (of Lite0's 16, Lite1's and Lite2's 21).
    #[arg(long, default_value_t = 3)]
    pub blocks: usize,
    /// Passes over the training split (0: save the untrained network, a baseline).
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Batches whose gradients are summed before each optimisation step (a small batch
    /// stands in for a larger one: --batch 16 --accumulate 4 steps on 64 images).
    #[arg(long, default_value_t = 1)]
    pub accumulate: usize,
    /// AdamW's learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// The backbone's learning rate as a fraction of --lr (partial and full modes).
    #[arg(long, default_value_t = 0.1)]
    pub backbone_lr_factor: f64,
    /// AdamW's decoupled weight decay.
    #[arg(long, default_value_t = 1e-2)]
    pub weight_decay: f64,
    /// Dropout before the classifier.
    #[arg(long, default_value_t = 0.3)]
    pub dropout: f32,
    /// The width of the embedding (the search vector).
    #[arg(long, default_value_t = 512)]
    pub embedding_dim: usize,
    /// The classifier and its loss: multi-label (the paper's: independent sigmoids, eq. 1–3),
    /// single-label (a softmax over categories, cross-entropy with label smoothing 0.1), or
    /// auto (single-label when every training item has exactly one label).
    #[arg(long, default_value = "auto", value_parser = ["auto", "multi-label", "single-label"])]
    pub classifier: String,
    /// The learning rate over the run: constant, or cosine (down to a twentieth of --lr at
    /// the last epoch).
    #[arg(long, default_value = "constant", value_parser = ["constant", "cosine"])]
    pub lr_schedule: String,
    /// The shallow colour branch beside the backbone (paper §III): on, or off for a
    /// backbone-only network (to measure what the branch adds).
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub shallow: String,
    /// Regular augmentation (flip, rotation, shift, shear): on, off, or heavy (about twice
    /// the ranges: the paper's heavier augmentation, its system V3).
    #[arg(long, default_value = "on", value_parser = ["on", "off", "heavy"])]
    pub augment: String,
    /// New backgrounds behind the cut-out item: real (the bundled scene photographs), off,
    /// procedural (drawn scenes), or a folder of your own scene photos. Photos whose cut-out
    /// is unreliable (no plain background) keep their own background.
    #[arg(long, default_value = "real", value_name = "real|off|procedural|DIR")]
    pub background_aug: String,
    /// Head and partial modes: augmented views per training item, drawn once and cached.
    #[arg(long, default_value_t = 4)]
    pub variants: usize,
    /// Epochs without a better validation IoU before stopping early.
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// The new system's name (default: from the backbone, mode and background).
    #[arg(long)]
    pub name: Option<String>,
    /// Decides the 80/10/10 split and every random augmentation.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Continue the run called --name from its last checkpoint (up to --epochs).
    #[arg(long)]
    pub resume: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// The run these arguments ask for.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let mode = Mode::parse(&self.mode, self.blocks)?;
        let background = BackgroundAug::parse(&self.background_aug);
        let name = match &self.name {
            Some(name) => name.clone(),
            None => {
                let name = default_name(&self.backbone, mode, &background)?;
                // A backbone-only run must not replace the system with the branch.
                if self.shallow == "on" {
                    name
                } else {
                    format!("{name}-noshallow")
                }
            }
        };
        Ok(TrainConfig {
            name,
            backbone: self.backbone.clone(),
            backbone_weights: self.backbone_weights.clone(),
            input_side_px: self.size,
            mode,
            epochs: self.epochs,
            batch_size: self.batch,
            accumulate: self.accumulate,
            learning_rate: self.lr,
            backbone_lr_factor: self.backbone_lr_factor,
            weight_decay: self.weight_decay,
            dropout: self.dropout,
            embedding_dim: self.embedding_dim,
            shallow: self.shallow == "on",
            lr_schedule: train::LrSchedule::parse(&self.lr_schedule)?,
            classifier: train::ClassifierChoice::parse(&self.classifier)?,
            augment: self.augment != "off",
            heavy_augment: self.augment == "heavy",
            background,
            variants: self.variants,
            patience: self.patience,
            seed: self.seed,
        })
    }
}

/// `lite0-head`, `lite0-partial-bg`, `resnet50-full` …
pub fn default_name(
    backbone: &str,
    mode: Mode,
    background: &BackgroundAug,
) -> anyhow::Result<String> {
    let kind = crate::model::backbone::BackboneKind::parse(backbone)?;
    let short = kind.as_str().trim_start_matches("efficientnet-");
    let bg = if *background == BackgroundAug::Off {
        ""
    } else {
        "-bg"
    };
    Ok(format!("{short}-{}{bg}", mode.name()))
}

pub fn run(dir: &Path, device: &str, args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let device = crate::device::device(device)?;
    let config = args.config()?;
    // Checked before any file is read or written, `--resume` included: the name becomes
    // folders under the library.
    if !system::is_valid_system_name(&config.name) || config.name == system::IMAGENET_LITE0 {
        anyhow::bail!(
            "{:?} cannot name a trained system: use 1–64 characters of a-z, 0-9, '.', '_' and \
             '-' (not {})",
            config.name,
            system::IMAGENET_LITE0
        );
    }
    let dir = dir.to_path_buf();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:36} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let lines = bar.clone();
    let (job_config, resume) = (config.clone(), args.resume);
    let job = Job::spawn("train", None, move |ctx| {
        let mut lib = Library::open(&dir)?;
        train::train(&mut lib, &job_config, resume, &device, ctx, &mut |event| {
            if let TrainEvent::Plan(plan) = event {
                let line = format!("mode {}", plan.reason);
                if lines.is_hidden() {
                    eprintln!("{line}");
                } else {
                    lines.println(line);
                }
            }
            if let TrainEvent::Epoch(e) = event {
                let line = format!(
                    "epoch {:>3}: loss {:.4} (cross-entropy {:.4}), validation IoU {:.3} precision {:.3} \
                     recall {:.3}, {:.1} images/s",
                    e.epoch,
                    e.train_loss,
                    e.train_bce,
                    e.validation.iou,
                    e.validation.precision,
                    e.validation.recall,
                    e.images_per_s
                );
                // A hidden bar (stderr not a terminal) prints nothing: then plain lines.
                if lines.is_hidden() {
                    eprintln!("{line}");
                } else {
                    lines.println(line);
                }
            }
        })
    });
    let result = job.wait_with(|p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        bar.set_message(p.stage.clone());
    });
    bar.finish_and_clear();
    let report = result.with_context(|| format!("cannot train {}", config.name))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", summary(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// One paragraph on a finished run.
pub fn summary(r: &TrainReport) -> String {
    format!(
        "Trained {} ({} mode, {} epochs{}, best epoch {}{}): {} labels, {}/{}/{} items\n  \
         validation IoU {:.3} precision {:.3} recall {:.3}\n  test IoU {:.3} precision {:.3} \
         recall {:.3}\n  {:.1} training images/s, {:.1} s in all",
        r.system,
        r.mode,
        r.epochs_run,
        r.resumed_from
            .map(|e| format!(", resumed after {e}"))
            .unwrap_or_default(),
        r.best_epoch,
        if r.stopped_early {
            ", stopped early"
        } else {
            ""
        },
        r.labels,
        r.train_items,
        r.validation_items,
        r.test_items,
        r.validation.iou,
        r.validation.precision,
        r.validation.recall,
        r.test.iou,
        r.test.precision,
        r.test.recall,
        r.images_per_s,
        r.elapsed_secs
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    fn config(args: &[&str]) -> crate::train::TrainConfig {
        let cli = Cli::try_parse_from([&["vitrine", "train"], args].concat()).unwrap();
        match cli.command {
            Some(Command::Train(t)) => t.config().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ablation_flags_reach_the_config_and_the_default_name() {
        let d = config(&[]);
        assert!(d.shallow && d.augment && !d.heavy_augment);
        let heavy = config(&["--augment", "heavy", "--shallow", "off", "--mode", "head"]);
        assert!(heavy.augment && heavy.heavy_augment && !heavy.shallow);
        // A backbone-only run never takes the name of the run with the branch.
        assert_eq!(heavy.name, "lite0-head-bg-noshallow");
        let off = config(&["--augment", "off"]);
        assert!(!off.augment && !off.heavy_augment);
        assert!(Cli::try_parse_from(["vitrine", "train", "--augment", "extreme"]).is_err());
    }
}
