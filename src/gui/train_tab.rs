//! The Train tab: configure a training run, start / cancel / resume it, watch it (loss and
//! validation IoU, precision and recall per epoch, as plots), see what the augmentation
//! makes of the catalogue (a preview grid of augmented samples, so the background cut-out's
//! mask quality is visible), and compare past runs, any of which can become the system
//! search uses.
//!
//! The run is a background job (`JobKind::Train`, queued if another job runs): it sends its
//! detailed [`TrainEvent`]s over a channel that [`poll`] drains each frame; they feed the
//! plots and the job's phases (caching features, then the epochs, each with its own bar and
//! time left), which the status line and this tab show alike.
//!
//! Resume is offered only where there is a run to resume: a checkpoint of the form's name
//! (`train::checkpoint::find_run`) with epochs still to go. A cancelled run says what it
//! kept.

use super::{App, Command, JobKind, JobOutput, JobState, Runtime, Tab, theme, widgets};
use crate::library::Library;
use crate::model::backbone::BackboneKind;
use crate::model::system;
use crate::train::checkpoint::{RunState, find_run};
use crate::train::{self, BackgroundAug, EpochStats, Mode, TrainConfig, TrainEvent, TrainReport};
use eframe::egui;
use egui::{RichText, ScrollArea, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};
use image::RgbImage;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};

/// Augmented samples in the preview grid.
const PREVIEW_COUNT: usize = 8;
/// The height of each progress plot, in points.
const PLOT_HEIGHT: f32 = 180.0;
/// The width of the form's text fields, in points.
const FIELD_WIDTH: f32 = 150.0;
/// The side of a preview tile, in points.
const PREVIEW_SIDE: f32 = 96.0;

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
    /// Weights for backbones other than Lite0 (a path typed in).
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

/// The Train tab's runtime state.
#[derive(Default)]
pub(crate) struct TrainView {
    pub form: TrainForm,
    /// Events of the running training job.
    events: Option<Receiver<TrainEvent>>,
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
    preview_rx: Option<(PreviewSettings, Receiver<crate::Result<Vec<RgbImage>>>)>,
    folder_rx: Option<Receiver<Option<PathBuf>>>,
}

/// Drains the running job's training events (returned, for the job's phases), the preview
/// and the folder picker.
pub(crate) fn poll(
    view: &mut TrainView,
    ctx: &egui::Context,
    errors: &mut Vec<String>,
) -> Vec<TrainEvent> {
    let mut events = Vec::new();
    if let Some(rx) = &view.events {
        loop {
            match rx.try_recv() {
                Ok(TrainEvent::Epoch(stats)) => view.history.push(stats),
                Ok(TrainEvent::Plan(plan)) => view.plan = Some(plan),
                Ok(other) => {
                    if matches!(other, TrainEvent::Step { .. }) {
                        view.latest = Some(other.clone());
                    }
                    events.push(other);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    view.events = None;
                    break;
                }
            }
        }
    }
    if let Some((settings, rx)) = &view.preview_rx {
        match rx.try_recv() {
            Ok(Ok(images)) => {
                view.preview_settings = Some(settings.clone());
                view.preview = images
                    .iter()
                    .enumerate()
                    .map(|(i, img)| {
                        let color = egui::ColorImage::from_rgb(
                            [img.width() as usize, img.height() as usize],
                            img.as_raw(),
                        );
                        ctx.load_texture(format!("augmented {i}"), color, Default::default())
                    })
                    .collect();
                view.preview_rx = None;
            }
            Ok(Err(e)) => {
                errors.push(format!("Cannot preview the augmentation: {e}"));
                view.preview_rx = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => view.preview_rx = None,
        }
    }
    if let Some(rx) = &view.folder_rx {
        match rx.try_recv() {
            Ok(picked) => {
                if let Some(dir) = picked {
                    view.form.background_dir = Some(dir);
                    view.form.background = BackgroundChoice::Folder;
                }
                view.folder_rx = None;
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => view.folder_rx = None,
        }
    }
    events
}

/// The trained systems of `lib` with their metrics, for the runs table.
fn past_runs(lib: &Library) -> crate::Result<Vec<PastRun>> {
    Ok(lib
        .store
        .systems()?
        .into_iter()
        .map(|row| {
            let m: serde_json::Value = serde_json::from_str(&row.metrics_json).unwrap_or_default();
            let f = |a: &str, b: &str| m[a][b].as_f64().unwrap_or(f64::NAN);
            PastRun {
                name: row.name,
                mode: m["mode"].as_str().unwrap_or("-").to_string(),
                background: m["background_aug"].as_str().unwrap_or("-").to_string(),
                epochs: m["epochs"].as_u64().unwrap_or(0),
                validation_iou: f("validation", "iou"),
                test_iou: f("test", "iou"),
                test_precision: f("test", "precision"),
                test_recall: f("test", "recall"),
            }
        })
        .collect())
}

impl App {
    /// Starts the form's run (or resumes the run of the form's name) as a background job,
    /// queued behind the one running, if any.
    pub(super) fn start_train(&mut self, resume: bool) {
        let config = match self.rt.train.form.config() {
            Ok(config) => config,
            Err(e) => {
                self.report(format!("Cannot start training: {e}"));
                return;
            }
        };
        if resume {
            // Resume is offered only where a run can continue; the checkpoint may have gone
            // since (another window, a cleanup): say so in words, never as a raw OS error.
            match find_run(&self.rt.library_dir, &config.name) {
                Ok(Some(state)) if state.can_continue(config.epochs) => {}
                Ok(Some(state)) => {
                    self.report(format!(
                        "The run {} has finished its {} epochs; ask for more epochs to \
                         resume it, or start a new run.",
                        config.name, state.epochs_done
                    ));
                    return;
                }
                Ok(None) => {
                    self.report(format!(
                        "There is no run called {} to resume; Start training begins one.",
                        config.name
                    ));
                    return;
                }
                Err(e) => {
                    self.report(format!("Cannot resume {}: {e}", config.name));
                    return;
                }
            }
        }
        if self.job_pending(|k| matches!(k, JobKind::Train { .. })) {
            self.report(
                "A training run is already running or queued; one run at a time.".to_owned(),
            );
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = self.rt.library_dir.clone();
        let name = config.name.clone();
        let job_name = format!("{} {name}", if resume { "Resuming" } else { "Training" });
        let plotted = name.clone();
        let on_start: super::job_slot::OnStart = Box::new(move |app: &mut App| {
            let view = &mut app.rt.train;
            view.events = Some(rx);
            view.history.clear();
            view.plotted = Some(plotted);
            view.latest = None;
            view.report = None;
            view.outcome = None;
            view.plan = None;
        });
        let work: super::job_slot::Work = Box::new(move |ctx| {
            let mut lib = Library::open(&dir)?;
            let device = system::device("cpu")?;
            train::train(&mut lib, &config, resume, &device, ctx, &mut |event| {
                let _ = tx.send(event.clone());
            })
            .map(JobOutput::Train)
        });
        self.queue_job(
            JobKind::Train { system: name },
            &job_name,
            work,
            Some(on_start),
        );
    }

    /// A training job ended (finished, cancelled or failed): the caching or step line of the
    /// run goes, and a cancelled run says what it kept.
    pub(super) fn train_ended(&mut self, cancelled: bool) {
        let view = &mut self.rt.train;
        view.latest = None;
        view.resumable = None;
        if !cancelled {
            return;
        }
        let name = view.plotted.clone().unwrap_or_default();
        view.outcome = Some(match find_run(&self.rt.library_dir, &name) {
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

    /// Draws a few augmented samples on a thread; [`poll`] turns them into textures.
    pub(super) fn start_preview(&mut self) {
        let settings = self.rt.train.form.preview_settings();
        let config = match self.rt.train.form.config() {
            Ok(config) => config,
            Err(e) => {
                self.report(format!("Cannot preview the augmentation: {e}"));
                return;
            }
        };
        let dir = self.rt.library_dir.clone();
        let spawned = super::off_ui_thread(&self.rt.ctx, "augmentation preview", move || {
            Library::open(&dir).and_then(|lib| train::preview(&lib, &config, PREVIEW_COUNT))
        });
        match spawned {
            Ok(rx) => self.rt.train.preview_rx = Some((settings, rx)),
            Err(e) => self.report(format!("Cannot preview the augmentation: {e}")),
        }
    }

    /// Shows the folder picker for background scenes on its own thread.
    pub(super) fn pick_background_folder(&mut self) {
        if self.rt.train.folder_rx.is_some() {
            return;
        }
        let spawned = super::off_ui_thread(&self.rt.ctx, "background folder picker", || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Choose a folder of background scenes")
                .pick_folder();
            super::block_on(dialog).map(|h| h.path().to_path_buf())
        });
        match spawned {
            Ok(rx) => self.rt.train.folder_rx = Some(rx),
            Err(e) => self.report(format!("Cannot show the folder picker: {e}")),
        }
    }

    /// A finished training job: its report, the new system in the pickers and the table.
    pub(super) fn train_finished(&mut self, name: String, report: TrainReport) -> JobState {
        self.reload_systems();
        self.rt.train.runs = None;
        let summary = format!(
            "Trained {}: test IoU {:.3}, precision {:.3}, recall {:.3} ({} epochs)",
            report.system,
            report.test.iou,
            report.test.precision,
            report.test.recall,
            report.epochs_run
        );
        self.rt.train.report = Some(report);
        JobState::Done { name, summary }
    }
}

/// Draws the Train tab.
pub(crate) fn train_tab_ui(ui: &mut Ui, rt: &mut Runtime) {
    if rt.train.runs.is_none()
        && let Some(lib) = &rt.library
    {
        match past_runs(lib) {
            Ok(runs) => rt.train.runs = Some(runs),
            Err(e) => {
                rt.errors
                    .push(format!("Cannot list the trained systems: {e}"));
                rt.train.runs = Some(Vec::new());
            }
        }
    }
    let running_job = match &rt.job {
        JobState::Running(r) if matches!(r.kind, JobKind::Train { .. }) => Some(r),
        _ => None,
    };
    let running = running_job.is_some();
    let busy = matches!(rt.job, JobState::Running(_));
    let train_queued = rt.job_pending_of(|k| matches!(k, JobKind::Train { .. }));
    refresh_resumable(&mut rt.train, &rt.library_dir);
    // The preview follows the settings: once shown, it is drawn again when they change.
    let mut commands = Vec::new();
    let drawing = rt.train.preview_rx.is_some();
    if !drawing
        && let Some(shown) = &rt.train.preview_settings
        && *shown != rt.train.form.preview_settings()
    {
        commands.push(Command::PreviewAugmentation);
    }
    let mut show_history = None;
    egui::Panel::left("train form")
        .resizable(false)
        .exact_size(theme::FILTER_PANEL_WIDTH + 40.0)
        .frame(theme::panel_frame(ui))
        .show(ui, |ui| {
            ScrollArea::vertical().show(ui, |ui| {
                let state = FormState {
                    busy,
                    running,
                    train_queued,
                    resumable: rt.train.resumable.as_ref().map(|(_, r)| r),
                };
                form_ui(ui, &mut rt.train.form, &state, &mut commands);
                ui.add_space(theme::SECTION_GAP);
                status_ui(ui, &rt.train, running_job.map(|r| &**r));
            });
        });
    egui::CentralPanel::default()
        .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
        .show(ui, |ui| {
            ScrollArea::vertical().show(ui, |ui| {
                plots_ui(ui, rt.train.plotted.as_deref(), &rt.train.history);
                ui.add_space(theme::SECTION_GAP);
                preview_ui(ui, &rt.train, &mut commands);
                ui.add_space(theme::SECTION_GAP);
                super::cutouts::cutouts_ui(ui, &rt.cutouts, &mut commands);
                ui.add_space(theme::SECTION_GAP);
                runs_ui(
                    ui,
                    rt.train.runs.as_deref().unwrap_or_default(),
                    busy,
                    &mut show_history,
                    &mut commands,
                );
            });
        });
    rt.commands.extend(commands);
    // A past run's epochs come from its checkpoint state (a small JSON file).
    if let Some(name) = show_history
        && !running
    {
        match find_run(&rt.library_dir, &name) {
            Ok(Some(state)) => {
                rt.train.history = state.history;
                rt.train.plotted = Some(name);
            }
            Ok(None) => rt.errors.push(format!(
                "{name} has no training run in this library to plot (it was trained elsewhere, \
                 or its run folder was removed)."
            )),
            Err(e) => rt
                .errors
                .push(format!("Cannot show the epochs of {name}: {e}")),
        }
    }
}

/// Reads again which run Resume would continue, when the form's name changed (or a run
/// ended: `train_ended` clears it). A missing checkpoint is "nothing to resume", never an
/// error.
fn refresh_resumable(view: &mut TrainView, root: &std::path::Path) {
    let name = view.form.name.trim().to_owned();
    if view.resumable.as_ref().is_some_and(|(n, _)| *n == name) {
        return;
    }
    let found = find_run(root, &name).map_err(|e| e.to_string());
    view.resumable = Some((name, found));
}

/// What the form's buttons depend on.
struct FormState<'a> {
    /// Some job runs (a new run would queue behind it).
    busy: bool,
    /// A training job runs.
    running: bool,
    /// A training job runs or is queued: one run at a time.
    train_queued: bool,
    /// The run of the form's name, as its checkpoint says.
    resumable: Option<&'a Result<Option<RunState>, String>>,
}

fn form_ui(ui: &mut Ui, form: &mut TrainForm, state: &FormState, commands: &mut Vec<Command>) {
    ui.heading("Training run");
    egui::Grid::new("train form grid")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("System name");
            ui.add(egui::TextEdit::singleline(&mut form.name).desired_width(FIELD_WIDTH))
                .labelled_by(label.id);
            ui.end_row();

            let label = ui.label("Backbone");
            egui::ComboBox::from_id_salt("train backbone")
                .selected_text(&form.backbone)
                .show_ui(ui, |ui| {
                    for kind in BackboneKind::ALL {
                        ui.selectable_value(
                            &mut form.backbone,
                            kind.as_str().to_string(),
                            kind.as_str(),
                        );
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            if form.backbone != BackboneKind::Lite0.as_str() {
                let label = ui.label("Backbone weights");
                ui.add(
                    egui::TextEdit::singleline(&mut form.backbone_weights)
                        .desired_width(FIELD_WIDTH),
                )
                .labelled_by(label.id)
                .on_hover_text("A safetensors file of the backbone in timm's names");
                ui.end_row();
            }

            let label = ui.label("Mode");
            egui::ComboBox::from_id_salt("train mode")
                .selected_text(form.mode)
                .show_ui(ui, |ui| {
                    for (mode, what) in [
                        (
                            "auto",
                            "partial where this catalogue and machine can afford it, else head; \
                             the run says which and why",
                        ),
                        (
                            "head",
                            "backbone frozen, its features cached once: the shallow branch and \
                             the head train (the fastest)",
                        ),
                        (
                            "partial",
                            "the backbone's last blocks train too, from a cached frozen prefix: \
                             an epoch costs a fraction of a full pass",
                        ),
                        (
                            "full",
                            "every weight trains, every image decoded each epoch (a GPU is \
                             advised)",
                        ),
                    ] {
                        ui.selectable_value(&mut form.mode, mode, mode)
                            .on_hover_text(what);
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            if form.mode == "partial" {
                let label = ui.label("Blocks");
                ui.add(egui::DragValue::new(&mut form.blocks).range(1..=16))
                    .labelled_by(label.id);
                ui.end_row();
            }
            let label = ui.label("Epochs");
            ui.add(egui::DragValue::new(&mut form.epochs).range(0..=500))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Batch");
            ui.add(egui::DragValue::new(&mut form.batch).range(1..=512))
                .labelled_by(label.id);
            ui.end_row();
            let label = ui.label("Learning rate");
            ui.add(
                egui::DragValue::new(&mut form.learning_rate)
                    .range(1e-6..=1.0)
                    .speed(1e-4)
                    .max_decimals(6),
            )
            .labelled_by(label.id);
            ui.end_row();
        });
    ui.checkbox(&mut form.cosine, "Cosine learning-rate schedule")
        .on_hover_text(
            "The rate falls from the value above to a twentieth of it by the last epoch",
        );
    ui.checkbox(
        &mut form.shallow,
        "Shallow colour branch beside the backbone (paper §III)",
    )
    .on_hover_text("Off trains a backbone-only network, to see what the branch adds");
    ui.checkbox(
        &mut form.augment,
        "Regular augmentation (flip, rotation, shift, shear)",
    );
    ui.indent("heavier augmentation", |ui| {
        ui.add_enabled(
            form.augment,
            egui::Checkbox::new(&mut form.heavy_augment, "Heavier ranges"),
        )
        .on_hover_text("About twice the ranges: the paper's heavier augmentation (V3)");
    });
    ui.label("Background augmentation");
    ui.horizontal_wrapped(|ui| {
        ui.radio_value(&mut form.background, BackgroundChoice::Off, "Off");
        ui.radio_value(&mut form.background, BackgroundChoice::Real, "Real photos");
        ui.radio_value(
            &mut form.background,
            BackgroundChoice::Procedural,
            "Procedural scenes",
        );
        ui.radio_value(
            &mut form.background,
            BackgroundChoice::Folder,
            "Scene folder",
        );
    });
    if form.background == BackgroundChoice::Folder {
        ui.horizontal(|ui| {
            let shown = form
                .background_dir
                .as_ref()
                .map_or("no folder chosen".to_string(), |d| d.display().to_string());
            ui.label(RichText::new(shown).monospace().weak());
            if ui.button("Choose folder…").clicked() {
                commands.push(Command::PickBackgroundFolder);
            }
        });
    }
    // Resume only where there is a run of this name with epochs to go.
    let (can_resume, why) = match state.resumable {
        Some(Ok(Some(run))) if run.can_continue(form.epochs) => (
            true,
            format!(
                "Resume continues {}: {} of {} epochs done",
                run.config.name,
                run.epochs_done,
                run.config.epochs.max(form.epochs)
            ),
        ),
        Some(Ok(Some(run))) => (
            false,
            format!(
                "{} has finished its {} epochs; raise Epochs to train it further",
                run.config.name, run.epochs_done
            ),
        ),
        Some(Err(e)) => (false, format!("Its checkpoint cannot be read: {e}")),
        Some(Ok(None)) | None => (
            false,
            format!(
                "No run called {} to resume: Start training begins one",
                form.name.trim()
            ),
        ),
    };
    ui.add_space(theme::SECTION_GAP);
    ui.horizontal_wrapped(|ui| {
        // With another kind of job running, a new run waits in the queue behind it.
        let start_text = if state.busy && !state.train_queued {
            "Start training (queued)"
        } else {
            "Start training"
        };
        if ui
            .add_enabled(!state.train_queued, egui::Button::new(start_text))
            .on_hover_text("Train a new system with these settings")
            .on_disabled_hover_text("A training run is running or queued: one run at a time")
            .clicked()
        {
            commands.push(Command::StartTraining { resume: false });
        }
        if ui
            .add_enabled(
                can_resume && !state.train_queued,
                egui::Button::new("Resume"),
            )
            .on_hover_text(why.as_str())
            .on_disabled_hover_text(why.as_str())
            .clicked()
        {
            commands.push(Command::StartTraining { resume: true });
        }
        if state.running && ui.button("Cancel training").clicked() {
            commands.push(super::JobCommand::Cancel.into());
        }
    });
    // What Resume would do (or why it cannot), always in view rather than in a tooltip.
    ui.add(egui::Label::new(RichText::new(why).small().weak()).wrap());
}

/// The running run's phases (the same bars as the status line), its latest step, and how
/// the last run ended.
fn status_ui(ui: &mut Ui, view: &TrainView, running: Option<&super::RunningJob>) {
    if let Some(job) = running {
        widgets::phases_stacked_ui(ui, job);
        if let Some(TrainEvent::Step {
            loss, images_per_s, ..
        }) = &view.latest
        {
            ui.label(RichText::new(format!("loss {loss:.4}, {images_per_s:.0} images/s")).weak());
        }
    }
    if let Some(plan) = &view.plan {
        ui.add(egui::Label::new(format!("Mode chosen: {}.", plan.reason)).wrap());
    }
    if let Some(outcome) = &view.outcome {
        ui.add(egui::Label::new(RichText::new(outcome).strong()).wrap());
    }
    if let Some(last) = view.history.last() {
        ui.label(format!(
            "Validation after epoch {}: IoU {:.3}, precision {:.3}, recall {:.3}",
            last.epoch, last.validation.iou, last.validation.precision, last.validation.recall
        ));
    }
    if let Some(r) = &view.report {
        ui.label(
            RichText::new(format!(
                "Result: system {} (best epoch {}{}), test IoU {:.3}, precision {:.3}, recall {:.3}",
                r.system,
                r.best_epoch,
                if r.stopped_early { ", stopped early" } else { "" },
                r.test.iou,
                r.test.precision,
                r.test.recall
            ))
            .strong(),
        );
    }
}

fn plots_ui(ui: &mut Ui, plotted: Option<&str>, history: &[EpochStats]) {
    ui.heading(match plotted {
        Some(name) => format!("Progress per epoch: {name}"),
        None => "Progress per epoch".to_string(),
    });
    if history.is_empty() {
        ui.label(RichText::new("The plots fill in as epochs finish.").weak());
        return;
    }
    let series = |f: &dyn Fn(&EpochStats) -> f64| -> Vec<[f64; 2]> {
        history.iter().map(|h| [h.epoch as f64, f(h)]).collect()
    };
    let half = (ui.available_width() - theme::GRID_GAP) / 2.0;
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_width(half);
            Plot::new("train loss plot")
                .height(PLOT_HEIGHT)
                .legend(Legend::default())
                .x_axis_label("epoch")
                .include_y(0.0)
                .show(ui, |plot| {
                    // A single-label (softmax) run has no eq. (3) weighting: one line.
                    let weighted = history.iter().any(|h| h.train_loss != h.train_bce);
                    if weighted {
                        plot.line(Line::new(
                            "loss (eq. 3)",
                            PlotPoints::from(series(&|h| h.train_loss)),
                        ));
                        plot.line(Line::new(
                            "BCE (eq. 1)",
                            PlotPoints::from(series(&|h| h.train_bce)),
                        ));
                    } else {
                        plot.line(Line::new(
                            "cross-entropy loss",
                            PlotPoints::from(series(&|h| h.train_loss)),
                        ));
                    }
                });
        });
        ui.vertical(|ui| {
            ui.set_width(half);
            Plot::new("train validation plot")
                .height(PLOT_HEIGHT)
                .legend(Legend::default())
                .x_axis_label("epoch")
                .include_y(0.0)
                .include_y(1.0)
                .show(ui, |plot| {
                    plot.line(Line::new(
                        "validation IoU",
                        PlotPoints::from(series(&|h| h.validation.iou)),
                    ));
                    plot.line(Line::new(
                        "precision",
                        PlotPoints::from(series(&|h| h.validation.precision)),
                    ));
                    plot.line(Line::new(
                        "recall",
                        PlotPoints::from(series(&|h| h.validation.recall)),
                    ));
                });
        });
    });
}

fn preview_ui(ui: &mut Ui, view: &TrainView, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("Augmentation preview");
        if ui
            .button("Preview augmentation")
            .on_hover_text("Draw augmented samples of the first items with these settings")
            .clicked()
        {
            commands.push(Command::PreviewAugmentation);
        }
    });
    if view.preview_rx.is_some() {
        ui.spinner();
    } else if view.preview.is_empty() {
        ui.label(
            RichText::new("Shows what training sees: each item cut out and pasted on a new scene.")
                .weak(),
        );
    } else {
        if let Some(settings) = &view.preview_settings {
            let background = match settings.background {
                BackgroundChoice::Off => "off",
                BackgroundChoice::Real => "real scene photos",
                BackgroundChoice::Procedural => "procedural scenes",
                BackgroundChoice::Folder => "scenes from the folder",
            };
            let regular = if settings.augment { "on" } else { "off" };
            ui.label(
                RichText::new(format!(
                    "Regular augmentation {regular}, background augmentation {background} (the \
                     preview follows the settings)"
                ))
                .weak(),
            );
        }
        ui.horizontal_wrapped(|ui| {
            for (i, texture) in view.preview.iter().enumerate() {
                ui.add(
                    egui::Image::new(texture)
                        .fit_to_exact_size(egui::vec2(PREVIEW_SIDE, PREVIEW_SIDE))
                        .alt_text(format!("augmented sample {}", i + 1)),
                );
            }
        });
    }
}

fn runs_ui(
    ui: &mut Ui,
    runs: &[PastRun],
    busy: bool,
    show_history: &mut Option<String>,
    commands: &mut Vec<Command>,
) {
    ui.heading("Trained systems");
    if runs.is_empty() {
        ui.label(RichText::new("No trained system yet.").weak());
        return;
    }
    egui::Grid::new("past runs")
        .striped(true)
        .num_columns(9)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            for title in [
                "System",
                "Mode",
                "Background",
                "Epochs",
                "Val IoU",
                "Test IoU",
                "Precision",
                "Recall",
                "",
            ] {
                ui.label(RichText::new(title).strong());
            }
            ui.end_row();
            let num = |ui: &mut Ui, v: f64| {
                ui.label(if v.is_finite() {
                    format!("{v:.3}")
                } else {
                    "-".into()
                });
            };
            for run in runs {
                if ui
                    .link(&run.name)
                    .on_hover_text("Plot this run's epochs")
                    .clicked()
                {
                    *show_history = Some(run.name.clone());
                }
                ui.label(&run.mode);
                ui.label(&run.background);
                ui.label(run.epochs.to_string());
                num(ui, run.validation_iou);
                num(ui, run.test_iou);
                num(ui, run.test_precision);
                num(ui, run.test_recall);
                if ui
                    .add_enabled(
                        !busy,
                        egui::Button::new(format!("Use {} for search", run.name)),
                    )
                    .on_hover_text(
                        "Search with this system (its index is brought up to date first)",
                    )
                    .clicked()
                {
                    // Bring its index up to date (incremental), then search with it.
                    commands.push(Command::SelectSystem(run.name.clone()));
                    commands.push(Command::IndexCatalogue);
                    commands.push(Command::SelectTab(Tab::Search));
                }
                ui.end_row();
            }
        });
}
