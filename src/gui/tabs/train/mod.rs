//! The Train tab: configure a training run, start / cancel / resume it, watch it (loss and
//! validation IoU, precision and recall per epoch, as plots), see what the augmentation
//! makes of the catalogue (a preview grid of augmented samples, so the background cut-out's
//! mask quality is visible), and compare past runs, any of which can become the system
//! search uses.
//!
//! The run is a background job (`JobKind::Train`, queued if another job runs): it sends its
//! detailed [`TrainEvent`]s over a channel that [`TrainTab::poll`] drains each frame; they
//! feed the plots and the job's phases (caching features, then the epochs, each with its own
//! bar and time left), which the status line and this tab show alike. The channel is
//! connected when the run's job leaves the queue ([`TrainTab::run_started`]).
//!
//! Resume is offered only where there is a run to resume: a checkpoint of the form's name
//! (`train::checkpoint::find_run`) with epochs still to go. A cancelled run says what it
//! kept.

//!
//! The tab's commands ([`TrainCommand`]) start, preview and check; the augmentation preview,
//! the scene folder picker and the cut-out check (`cutouts`) are [`Pending`] results. What
//! the tab reads from the library (the past runs, the checkpoint Resume would continue) is
//! read in the app's state step ([`TrainTab::refresh`]), never while drawing.

mod cutouts;
mod table1;
mod ui;

use crate::gui::command::TrainCommand;
use crate::gui::job_slot::{JobKind, JobOutput, JobState};
use crate::gui::pending::{Pending, block_on};
use crate::gui::runtime::Runtime;
use crate::library::Library;
use crate::train::checkpoint::{RunState, find_run};
use crate::train::metrics::SystemMetrics;
use crate::train::{self, BackgroundAug, EpochStats, Mode, TrainConfig, TrainEvent, TrainReport};
use eframe::egui;
use image::RgbImage;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError};

/// Augmented samples in the preview grid.
const PREVIEW_COUNT: usize = 8;

/// Where the background scenes of a run come from, as the form chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackgroundChoice {
    Off,
    /// The bundled real photographs.
    Real,
    Procedural,
    Folder,
}

/// What the augmentation preview depends on: when the form's settings move away from the
/// ones the shown preview was drawn with, it is drawn again.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PreviewSettings {
    pub backbone: String,
    pub augment: bool,
    pub heavy_augment: bool,
    pub background: BackgroundChoice,
    pub background_dir: Option<PathBuf>,
}

/// The run the form describes.
#[derive(Debug, Clone)]
pub(crate) struct TrainForm {
    pub name: String,
    pub backbone: String,
    /// Weights for backbones other than the Lite ones (a path typed in).
    pub backbone_weights: String,
    pub mode: &'static str,
    pub blocks: usize,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// A cosine learning-rate schedule instead of a constant rate.
    pub cosine: bool,
    /// The shallow colour branch beside the backbone.
    pub shallow: bool,
    pub augment: bool,
    pub heavy_augment: bool,
    pub background: BackgroundChoice,
    pub background_dir: Option<PathBuf>,
    /// Train at the backbone's own input side (224 px for Lite0 …), or at `side_px`.
    pub own_side: bool,
    pub side_px: u32,
}

impl Default for TrainForm {
    fn default() -> Self {
        let d = TrainConfig::default();
        Self {
            name: "lite0-auto-bg".into(),
            backbone: d.backbone,
            backbone_weights: String::new(),
            mode: "auto",
            blocks: 3,
            epochs: d.epochs,
            batch: d.batch_size,
            learning_rate: d.learning_rate,
            cosine: d.lr_schedule == crate::train::LrSchedule::Cosine,
            shallow: d.shallow,
            augment: d.augment,
            heavy_augment: d.heavy_augment,
            background: BackgroundChoice::Real,
            background_dir: None,
            own_side: true,
            side_px: crate::model::backbone::BackboneKind::Lite0.input_px(),
        }
    }
}

impl TrainForm {
    /// The settings the augmentation preview shows.
    pub fn preview_settings(&self) -> PreviewSettings {
        PreviewSettings {
            backbone: self.backbone.clone(),
            augment: self.augment,
            heavy_augment: self.heavy_augment,
            background: self.background,
            background_dir: self.background_dir.clone(),
        }
    }

    /// The config of the run (errors: a folder choice without a folder, a bad mode).
    pub fn config(&self) -> crate::Result<TrainConfig> {
        let background = match (self.background, &self.background_dir) {
            (BackgroundChoice::Off, _) => BackgroundAug::Off,
            (BackgroundChoice::Real, _) => BackgroundAug::Real,
            (BackgroundChoice::Procedural, _) => BackgroundAug::Procedural,
            (BackgroundChoice::Folder, Some(dir)) => BackgroundAug::Folder(dir.clone()),
            (BackgroundChoice::Folder, None) => {
                return Err(crate::Error::Invalid(
                    "choose the folder of background scenes first".into(),
                ));
            }
        };
        let weights = self.backbone_weights.trim();
        Ok(TrainConfig {
            name: self.name.trim().to_string(),
            backbone: self.backbone.clone(),
            backbone_weights: (!weights.is_empty()).then(|| PathBuf::from(weights)),
            mode: Mode::parse(self.mode, self.blocks)?,
            epochs: self.epochs,
            batch_size: self.batch,
            learning_rate: self.learning_rate,
            lr_schedule: if self.cosine {
                crate::train::LrSchedule::Cosine
            } else {
                crate::train::LrSchedule::Constant
            },
            shallow: self.shallow,
            augment: self.augment,
            heavy_augment: self.heavy_augment,
            background,
            input_side_px: (!self.own_side).then_some(self.side_px),
            ..TrainConfig::default()
        })
    }
}

/// A trained system as the runs table shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PastRun {
    pub name: String,
    pub mode: String,
    pub background: String,
    pub epochs: u64,
    pub validation_iou: f64,
    pub test_iou: f64,
    pub test_precision: f64,
    pub test_recall: f64,
}

/// The Train tab's state.
#[derive(Default)]
pub(crate) struct TrainTab {
    pub form: TrainForm,
    /// Events of the running training job.
    events: Option<Receiver<TrainEvent>>,
    /// The events of the run asked for, with its name, until its job leaves the queue.
    next_run: Option<(String, Receiver<TrainEvent>)>,
    /// The epochs of the current (or last) run, for the plots.
    pub history: Vec<EpochStats>,
    /// Whose epochs the plots show (the running run, or a past one picked in the table).
    pub plotted: Option<String>,
    /// The latest step event of the running run (cleared when it ends).
    pub latest: Option<TrainEvent>,
    pub report: Option<TrainReport>,
    /// How the last run ended, when it did not finish: what it kept.
    pub outcome: Option<String>,
    /// The mode the running (or last) run chose with `auto`, and why.
    pub plan: Option<crate::train::plan::ModePlan>,
    /// The run of the form's name that Resume would continue, as last read from its
    /// checkpoint: (name, what was found). Read again when the name changes or a run ends.
    pub resumable: Option<(String, Result<Option<RunState>, String>)>,
    /// The settings of the preview on show (or being drawn).
    pub preview_settings: Option<PreviewSettings>,
    /// `None` until read from the library (and after every change).
    pub runs: Option<Vec<PastRun>>,
    pub preview: Vec<egui::TextureHandle>,
    /// The preview being drawn, with the settings it is drawn for.
    preview_drawn: Pending<Vec<RgbImage>>,
    preview_asked: Option<PreviewSettings>,
    folder_picker: Pending<Option<PathBuf>>,
    /// The cut-out check.
    pub cutouts: cutouts::CutoutView,
    /// The paper's Table I: its settings and last table.
    pub table1: table1::Table1View,
}

impl TrainTab {
    /// Carries out one Train command.
    pub fn handle(&mut self, command: TrainCommand, rt: &mut Runtime) {
        match command {
            TrainCommand::Start { resume } => self.start(resume, rt),
            TrainCommand::PreviewAugmentation => self.start_preview(rt),
            TrainCommand::PickBackgroundFolder => self.pick_background_folder(rt),
            TrainCommand::CheckCutouts => self.cutouts.start(rt),
            TrainCommand::PlotRun(name) => self.plot_run(name, rt),
            TrainCommand::RunTable1 => self.table1.start(rt),
        }
    }

    /// Drains the running job's training events (returned, for the job's phases), the
    /// preview, the folder picker and the cut-out check.
    pub fn poll(&mut self, rt: &mut Runtime) -> Vec<TrainEvent> {
        let mut events = Vec::new();
        if let Some(rx) = &self.events {
            loop {
                match rx.try_recv() {
                    Ok(TrainEvent::Epoch(stats)) => self.history.push(stats),
                    Ok(TrainEvent::Plan(plan)) => self.plan = Some(plan),
                    Ok(other) => {
                        if matches!(other, TrainEvent::Step { .. }) {
                            self.latest = Some(other.clone());
                        }
                        events.push(other);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.events = None;
                        break;
                    }
                }
            }
        }
        match self.preview_drawn.take_finished() {
            Some(Ok(images)) => {
                self.preview_settings = self.preview_asked.take();
                self.preview = images
                    .iter()
                    .enumerate()
                    .map(|(i, img)| {
                        let color = egui::ColorImage::from_rgb(
                            [img.width() as usize, img.height() as usize],
                            img.as_raw(),
                        );
                        rt.ctx
                            .load_texture(format!("augmented {i}"), color, Default::default())
                    })
                    .collect();
            }
            Some(Err(e)) => {
                self.preview_asked = None;
                rt.report(format!("Cannot preview the augmentation: {e}"));
            }
            None => {}
        }
        match self.folder_picker.take_finished() {
            Some(Ok(Some(dir))) => {
                self.form.background_dir = Some(dir);
                self.form.background = BackgroundChoice::Folder;
            }
            Some(Err(e)) => rt.report(format!("Cannot show the folder picker: {e}")),
            Some(Ok(None)) | None => {}
        }
        self.cutouts.poll(rt);
        events
    }

    /// Whether the augmentation preview is being drawn.
    pub fn drawing_preview(&self) -> bool {
        self.preview_drawn.is_running()
    }

    /// Reads what the tab shows from the library, while it is on show: the trained systems
    /// (once, and after every change) and, when the form's name changed (or a run ended:
    /// [`TrainTab::ended`] clears it), which run Resume would continue. A missing checkpoint
    /// is "nothing to resume", never an error.
    pub fn refresh(&mut self, rt: &mut Runtime) {
        if self.runs.is_none()
            && let Some(lib) = &rt.library
        {
            match past_runs(lib) {
                Ok(runs) => self.runs = Some(runs),
                Err(e) => {
                    rt.report(format!("Cannot list the trained systems: {e}"));
                    self.runs = Some(Vec::new());
                }
            }
        }
        self.table1.refresh(rt);
        let name = self.form.name.trim().to_owned();
        if self.resumable.as_ref().is_some_and(|(n, _)| *n == name) {
            return;
        }
        let found = find_run(&rt.library_dir, &name).map_err(|e| e.to_string());
        self.resumable = Some((name, found));
    }

    /// Starts the form's run (or resumes the run of the form's name) as a background job,
    /// queued behind the one running, if any.
    fn start(&mut self, resume: bool, rt: &mut Runtime) {
        let config = match self.form.config() {
            Ok(config) => config,
            Err(e) => {
                rt.report(format!("Cannot start training: {e}"));
                return;
            }
        };
        if resume {
            // Resume is offered only where a run can continue; the checkpoint may have gone
            // since (another window, a cleanup): say so in words, never as a raw OS error.
            match find_run(&rt.library_dir, &config.name) {
                Ok(Some(state)) if state.can_continue(config.epochs) => {}
                Ok(Some(state)) => {
                    rt.report(format!(
                        "The run {} has finished its {} epochs; ask for more epochs to \
                         resume it, or start a new run.",
                        config.name, state.epochs_done
                    ));
                    return;
                }
                Ok(None) => {
                    rt.report(format!(
                        "There is no run called {} to resume; Start training begins one.",
                        config.name
                    ));
                    return;
                }
                Err(e) => {
                    rt.report(format!("Cannot resume {}: {e}", config.name));
                    return;
                }
            }
        }
        if rt.job_pending(|k| matches!(k, JobKind::Train { .. })) {
            rt.report("A training run is already running or queued; one run at a time.".to_owned());
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = rt.library_dir.clone();
        let device = rt.device.clone();
        let name = config.name.clone();
        let job_name = format!("{} {name}", if resume { "Resuming" } else { "Training" });
        // The plots follow this run once its job leaves the queue (`run_started`).
        self.next_run = Some((name.clone(), rx));
        rt.start_job(JobKind::Train { system: name }, &job_name, move |ctx| {
            let mut lib = Library::open(&dir)?;
            let device = crate::device::device(&device)?;
            train::train(&mut lib, &config, resume, &device, ctx, &mut |event| {
                let _ = tx.send(event.clone());
            })
            .map(JobOutput::Train)
        });
    }

    /// The training run asked for left the queue: its events feed the plots from now on.
    pub fn run_started(&mut self) {
        let Some((name, rx)) = self.next_run.take() else {
            return;
        };
        self.events = Some(rx);
        self.history.clear();
        self.plotted = Some(name);
        self.latest = None;
        self.report = None;
        self.outcome = None;
        self.plan = None;
    }

    /// A training job ended (finished, cancelled or failed): the caching or step line of the
    /// run goes, and a cancelled run says what it kept.
    pub fn ended(&mut self, cancelled: bool, root: &Path) {
        let view = self;
        view.latest = None;
        view.resumable = None;
        if !cancelled {
            return;
        }
        let name = view.plotted.clone().unwrap_or_default();
        view.outcome = Some(match find_run(root, &name) {
            Ok(Some(state)) if state.epochs_done > 0 => format!(
                "Cancelled after epoch {} of {}: its checkpoint is kept, Resume continues it.",
                state.epochs_done, state.config.epochs
            ),
            Ok(Some(_)) => {
                "Cancelled before the first epoch ended: Resume starts its epochs again.".to_owned()
            }
            _ => "Cancelled before the first checkpoint: nothing to resume.".to_owned(),
        });
    }

    /// Draws a few augmented samples on a thread; [`TrainTab::poll`] turns them into
    /// textures.
    fn start_preview(&mut self, rt: &mut Runtime) {
        let settings = self.form.preview_settings();
        let config = match self.form.config() {
            Ok(config) => config,
            Err(e) => {
                rt.report(format!("Cannot preview the augmentation: {e}"));
                return;
            }
        };
        let dir = rt.library_dir.clone();
        self.preview_drawn = rt.spawn("augmentation preview", move || {
            Library::open(&dir).and_then(|lib| train::preview(&lib, &config, PREVIEW_COUNT))
        });
        self.preview_asked = Some(settings);
    }

    /// Shows the folder picker for background scenes on its own thread.
    fn pick_background_folder(&mut self, rt: &mut Runtime) {
        if self.folder_picker.is_running() {
            return;
        }
        self.folder_picker = rt.spawn("background folder picker", || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Choose a folder of background scenes")
                .pick_folder();
            Ok(block_on(dialog).map(|h| h.path().to_path_buf()))
        });
    }

    /// A finished training job: its report, and the new system in the table (the app puts
    /// it in the pickers). Returns the job's summary.
    pub fn finished(&mut self, report: TrainReport) -> String {
        self.runs = None;
        let summary = format!(
            "Trained {}: test IoU {:.3}, precision {:.3}, recall {:.3} ({} epochs)",
            report.system,
            report.test.iou,
            report.test.precision,
            report.test.recall,
            report.epochs_run
        );
        self.report = Some(report);
        summary
    }

    /// Plots a past run's epochs, from its checkpoint state (a small JSON file); not while a
    /// run trains (its own epochs are on the plots).
    fn plot_run(&mut self, name: String, rt: &mut Runtime) {
        let training = matches!(&rt.jobs.current, JobState::Running(r) if matches!(r.kind, JobKind::Train { .. }));
        if training {
            return;
        }
        match find_run(&rt.library_dir, &name) {
            Ok(Some(state)) => {
                self.history = state.history;
                self.plotted = Some(name);
            }
            Ok(None) => rt.report(format!(
                "{name} has no training run in this library to plot (it was trained elsewhere, \
                 or its run folder was removed)."
            )),
            Err(e) => rt.report(format!("Cannot show the epochs of {name}: {e}")),
        }
    }
}

/// The trained systems of `lib` with their metrics, for the runs table.
fn past_runs(lib: &Library) -> crate::Result<Vec<PastRun>> {
    Ok(lib
        .store
        .systems()?
        .into_iter()
        .map(|row| {
            // A row whose metrics cannot be read still lists the system, with dashes.
            let m = SystemMetrics::from_json(&row.metrics_json).ok().flatten();
            let f = |pick: fn(&SystemMetrics) -> f64| m.as_ref().map_or(f64::NAN, pick);
            PastRun {
                name: row.name,
                mode: m.as_ref().map_or("-".into(), |m| m.mode.clone()),
                background: m.as_ref().map_or("-".into(), |m| m.background_aug.clone()),
                epochs: m.as_ref().map_or(0, |m| m.epochs as u64),
                validation_iou: f(|m| m.validation.iou),
                test_iou: f(|m| m.test.iou),
                test_precision: f(|m| m.test.precision),
                test_recall: f(|m| m.test.recall),
            }
        })
        .collect())
}
