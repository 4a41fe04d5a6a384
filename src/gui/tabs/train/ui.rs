//! How the Train tab looks: the run's form with Start and Resume, the running run's phases
//! and how the last run ended, the plots per epoch, the augmentation preview, the cut-out
//! check and the table of trained systems.

use super::{BackgroundChoice, PastRun, TrainForm, TrainTab};

use crate::gui::command::JobCommand;
use crate::gui::command::TrainCommand;
use crate::gui::command::{Command, Tab};
use crate::gui::job_slot::{JobKind, JobState, RunningJob};
use crate::gui::runtime::Runtime;
use crate::gui::{theme, widgets};
use crate::model::backbone::BackboneKind;
use crate::train::checkpoint::RunState;
use crate::train::{EpochStats, TrainEvent};
use crate::train::{MAX_INPUT_SIDE_PX, MIN_INPUT_SIDE_PX};
use eframe::egui;
use egui::{RichText, ScrollArea, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

/// The height of each progress plot, in points.
const PLOT_HEIGHT: f32 = 180.0;
/// The width of the form's text fields, in points.
const FIELD_WIDTH: f32 = 150.0;
/// The side of a preview tile, in points.
const PREVIEW_SIDE: f32 = 96.0;

impl TrainTab {
    /// Draws the Train tab.
    pub fn ui(&mut self, ui: &mut Ui, rt: &mut Runtime) {
        let running_job = match &rt.jobs.current {
            JobState::Running(r) if matches!(r.kind, JobKind::Train { .. }) => Some(r),
            _ => None,
        };
        let running = running_job.is_some();
        let busy = matches!(rt.jobs.current, JobState::Running(_));
        let train_queued = rt.job_pending(|k| matches!(k, JobKind::Train { .. }));
        // The preview follows the settings: once shown, it is drawn again when they change.
        let mut commands: Vec<Command> = Vec::new();
        if !self.drawing_preview()
            && let Some(shown) = &self.preview_settings
            && *shown != self.form.preview_settings()
        {
            commands.push(TrainCommand::PreviewAugmentation.into());
        }
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
                        resumable: self.resumable.as_ref().map(|(_, r)| r),
                    };
                    form_ui(ui, &mut self.form, &state, &mut commands);
                    ui.add_space(theme::SECTION_GAP);
                    status_ui(ui, self, running_job.map(|r| &**r));
                });
            });
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
            .show(ui, |ui| {
                ScrollArea::vertical().show(ui, |ui| {
                    plots_ui(ui, self.plotted.as_deref(), &self.history);
                    ui.add_space(theme::SECTION_GAP);
                    preview_ui(ui, self, &mut commands);
                    ui.add_space(theme::SECTION_GAP);
                    self.cutouts.ui(ui, &mut commands);
                    ui.add_space(theme::SECTION_GAP);
                    runs_ui(
                        ui,
                        self.runs.as_deref().unwrap_or_default(),
                        busy,
                        &mut commands,
                    );
                    ui.add_space(theme::SECTION_GAP);
                    let table1_queued = rt.job_pending(|k| *k == JobKind::Table1);
                    self.table1.ui(ui, table1_queued, &mut commands);
                });
            });
        rt.commands.extend(commands);
    }
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
            // The Lite variants' weights ship; the others' are the user's file.
            let shipped = BackboneKind::parse(&form.backbone).is_ok_and(BackboneKind::is_lite);
            if !shipped {
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
            let kind = BackboneKind::parse(&form.backbone).ok();
            if form.mode == "partial" {
                // Lite0 has 16 blocks, Lite1 and Lite2 21; a backbone that cannot be split
                // is refused when the run starts, with the reason.
                let most = kind
                    .and_then(BackboneKind::lite_config)
                    .map_or(16, |c| c.blocks().len());
                let label = ui.label("Blocks");
                ui.add(egui::DragValue::new(&mut form.blocks).range(1..=most))
                    .labelled_by(label.id);
                ui.end_row();
            }
            let own = kind.map_or(224, BackboneKind::input_px);
            ui.label("Input size");
            ui.checkbox(&mut form.own_side, format!("The backbone's own ({own} px)"))
                .on_hover_text(
                    "Untick to train at another side. The system keeps it, and indexes and \
                     searches at it; smaller is faster, larger sees more detail",
                );
            ui.end_row();
            if !form.own_side {
                let label = ui.label("Side");
                ui.add(
                    egui::DragValue::new(&mut form.side_px)
                        .range(MIN_INPUT_SIDE_PX..=MAX_INPUT_SIDE_PX)
                        .suffix(" px"),
                )
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
                commands.push(TrainCommand::PickBackgroundFolder.into());
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
            commands.push(TrainCommand::Start { resume: false }.into());
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
            commands.push(TrainCommand::Start { resume: true }.into());
        }
        if state.running && ui.button("Cancel training").clicked() {
            commands.push(JobCommand::Cancel.into());
        }
    });
    // What Resume would do (or why it cannot), always in view rather than in a tooltip.
    ui.add(egui::Label::new(RichText::new(why).small().weak()).wrap());
}

/// The running run's phases (the same bars as the status line), its latest step, and how
/// the last run ended.
fn status_ui(ui: &mut Ui, view: &TrainTab, running: Option<&RunningJob>) {
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

fn preview_ui(ui: &mut Ui, view: &TrainTab, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("Augmentation preview");
        if ui
            .button("Preview augmentation")
            .on_hover_text("Draw augmented samples of the first items with these settings")
            .clicked()
        {
            commands.push(TrainCommand::PreviewAugmentation.into());
        }
    });
    if view.drawing_preview() {
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

fn runs_ui(ui: &mut Ui, runs: &[PastRun], busy: bool, commands: &mut Vec<Command>) {
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
                    commands.push(TrainCommand::PlotRun(run.name.clone()).into());
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
                    commands.push(Command::IndexCatalogue(None));
                    commands.push(Command::SelectTab(Tab::Search));
                }
                ui.end_row();
            }
        });
}
