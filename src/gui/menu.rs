//! The menu bar (File, View, Help), its dialogs (the keyboard shortcut sheet on F1 or `?`,
//! About, and the confirmation of a Cancel), the catalogue import it starts, and the overlay
//! that says "drop to search" while a file is dragged over the window.
//!
//! Menus only push [`Command`]s; `App::apply` carries them out. File > Import shows a file or
//! folder picker on its own thread (`App::pick_import`, in `app::library`); the import runs as
//! a job (queued behind a running one), and the imported catalogue is indexed by itself when
//! it ends (`App::catalogue_changed`). The Catalog tab's "Import photo folder…"
//! (`tabs::catalog::import`) starts the same import.

use crate::gui::command::{Command, Tab};
use crate::gui::command::{Dialog, ImportKind};

use crate::gui::runtime::Runtime;

use super::job_slot::{JobState, RunningJob};
use super::theme;
use crate::gui::command::AnalyzeCommand;
use crate::gui::command::JobCommand;
use crate::gui::ui_state::UiState;
use crate::sources::import::FolderSplit;
use eframe::egui;
use egui::{RichText, Ui};

/// The zoom steps of View > Zoom (egui's own Ctrl+Plus / Ctrl+Minus use the same range).
const ZOOM_STEP: f32 = 0.1;
const ZOOM_MIN: f32 = 0.5;
const ZOOM_MAX: f32 = 3.0;

/// A zoom factor kept within the range the menu offers.
pub(crate) fn clamp_zoom(zoom: f32) -> f32 {
    if zoom.is_finite() {
        zoom.clamp(ZOOM_MIN, ZOOM_MAX)
    } else {
        1.0
    }
}

/// The zoom after one step in (+1) or out (-1) from `current`, or back to 100 % (0).
pub(crate) fn next_zoom(current: f32, step: i32) -> f32 {
    if step == 0 {
        return 1.0;
    }
    // Round to the step, so steps always land on 90 %, 100 %, 110 % …
    let stepped = current + ZOOM_STEP * step.signum() as f32;
    clamp_zoom((stepped / ZOOM_STEP).round() * ZOOM_STEP)
}

/// Every keyboard shortcut, by where it works: the sheet F1 shows.
pub(crate) const SHORTCUTS: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            (
                "Ctrl+1 … Ctrl+6",
                "Search, Catalog, Train, Personalize, Evaluate, Analyze",
            ),
            ("Ctrl+O", "search with a photo from disk"),
            ("Ctrl+V", "search with an image from the clipboard"),
            (
                "Ctrl+Plus, Ctrl+Minus, Ctrl+0",
                "zoom in, out, back to 100 %",
            ),
            ("F1 or ?", "this sheet"),
            ("Esc", "leave a text field; close a dialog"),
        ],
    ),
    (
        "Search and Catalog",
        &[
            ("Alt+Left, Alt+Right", "the previous or next query"),
            (
                "H (held)",
                "why similar: heatmaps of the hovered result and the query",
            ),
            ("Arrow keys", "move the selection in the catalogue"),
            ("Esc", "close the item's details"),
        ],
    ),
    (
        "Scoring a sheet (Evaluate)",
        &[
            ("1 … 9, 0", "mark or unmark results 1 to 10 as hits"),
            ("Up, Down", "previous or next criterion"),
            (
                "Enter",
                "confirm the machine's pre-filled count, or next criterion",
            ),
            ("Left, Right", "previous or next sheet"),
            ("S", "skip this sheet for now"),
            ("Ctrl+Z", "take back the last answer"),
            (
                "In the count field",
                "digits are the count; Enter sets it; Esc leaves",
            ),
        ],
    ),
];

/// The menu bar: File, View, Help; `has_report`: the Analyze tab shows a report (File >
/// Export exports it).
pub(crate) fn menu_bar_ui(
    ui: &mut Ui,
    state: &UiState,
    (rt, has_report): (&Runtime, bool),
    commands: &mut Vec<Command>,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open library…").clicked() {
                commands.push(Command::PickLibraryFolder);
            }
            ui.menu_button("Import catalogue", |ui| {
                let open = rt.library.is_some();
                let mut entry = |ui: &mut Ui, kind: ImportKind| {
                    if ui
                        .add_enabled(open, egui::Button::new(kind.menu_text()))
                        .clicked()
                    {
                        commands.push(Command::PickImport(kind));
                    }
                };
                ui.menu_button("Photo folder", |ui| {
                    entry(ui, ImportKind::PhotoFolder(None));
                    for split in FolderSplit::ALL {
                        entry(ui, ImportKind::PhotoFolder(Some(split)));
                    }
                })
                .response
                .on_hover_text(
                    "One folder per category (the folder names become categories), a flat \
                     folder, or train/validation/test folders of which one split is imported",
                );
                for kind in ImportKind::FORMATS {
                    entry(ui, kind);
                }
            });
            ui.menu_button("Export", |ui| {
                for (text, raw) in [("OHS table (CSV)…", false), ("Raw scores (CSV)…", true)] {
                    if ui
                        .add_enabled(has_report, egui::Button::new(text))
                        .on_disabled_hover_text("Open a study's report in the Analyze tab first")
                        .clicked()
                    {
                        commands.push(AnalyzeCommand::PickExportFile { raw }.into());
                    }
                }
            });
            ui.separator();
            if ui.button("Quit").clicked() {
                commands.push(Command::Quit);
            }
        });
        ui.menu_button("View", |ui| {
            ui.label(RichText::new("Theme").weak());
            for choice in theme::ThemeChoice::ALL {
                if ui.radio(state.theme == choice, choice.title()).clicked() {
                    commands.push(Command::SetTheme(choice));
                }
            }
            ui.separator();
            let zoom = ui.ctx().zoom_factor();
            ui.label(RichText::new(format!("Zoom: {:.0} %", zoom * 100.0)).weak());
            for (text, step, keys) in [
                ("Zoom in", 1, "Ctrl+Plus"),
                ("Zoom out", -1, "Ctrl+Minus"),
                ("Actual size", 0, "Ctrl+0"),
            ] {
                if ui
                    .add(egui::Button::new(text).shortcut_text(keys))
                    .clicked()
                {
                    commands.push(Command::Zoom(step));
                }
            }
            ui.separator();
            for tab in Tab::ALL {
                let keys = ui.ctx().format_shortcut(&tab.shortcut());
                if ui
                    .add(egui::Button::new(tab.title()).shortcut_text(keys))
                    .clicked()
                {
                    commands.push(Command::SelectTab(tab));
                }
            }
        });
        ui.menu_button("Help", |ui| {
            if ui
                .add(egui::Button::new("Keyboard shortcuts").shortcut_text("F1"))
                .clicked()
            {
                commands.push(Command::ShowDialog(Some(Dialog::Shortcuts)));
            }
            if ui.button("About Vitrine").clicked() {
                commands.push(Command::ShowDialog(Some(Dialog::About)));
            }
        });
    });
}

/// The dialog on show, and the confirmation of a Cancel.
pub(crate) fn dialogs_ui(ctx: &egui::Context, rt: &Runtime, commands: &mut Vec<Command>) {
    if rt.jobs.confirm_cancel
        && let JobState::Running(job) = &rt.jobs.current
    {
        confirm_cancel_ui(ctx, job, commands);
    }
    let Some(dialog) = rt.dialog else {
        return;
    };
    let modal = egui::Modal::new(egui::Id::unique("dialog")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        match dialog {
            Dialog::Shortcuts => shortcuts_ui(ui),
            Dialog::About => about_ui(ui),
        }
        ui.add_space(8.0);
        if ui.button("Close").clicked() {
            commands.push(Command::ShowDialog(None));
        }
    });
    if modal.should_close() {
        commands.push(Command::ShowDialog(None));
    }
}

fn shortcuts_ui(ui: &mut Ui) {
    ui.heading("Keyboard shortcuts");
    for (place, keys) in SHORTCUTS {
        ui.add_space(6.0);
        ui.label(RichText::new(*place).strong());
        egui::Grid::new(("shortcuts", *place))
            .num_columns(2)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for (key, what) in *keys {
                    ui.label(RichText::new(*key).monospace());
                    ui.label(*what);
                    ui.end_row();
                }
            });
    }
}

fn about_ui(ui: &mut Ui) {
    ui.heading("About Vitrine");
    ui.label(format!("Version {}", env!("CARGO_PKG_VERSION")));
    ui.add(
        egui::Label::new(
            "Visual fashion recommendation and its human evaluation: search by photo, \
             train the feature extractor on your own catalogue, personalise from carts, and \
             compare systems by an objective-guided human score.",
        )
        .wrap(),
    );
    ui.label(RichText::new(env!("CARGO_PKG_LICENSE")).weak());
}

/// "Stop this job?" with what stopping keeps and loses. "Keep running" has the keyboard, so
/// Space or Enter pressed by habit keeps the job; Escape keeps it too.
fn confirm_cancel_ui(ctx: &egui::Context, job: &RunningJob, commands: &mut Vec<Command>) {
    let modal = egui::Modal::new(egui::Id::unique("confirm cancel")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading(format!("Stop “{}”?", job.name));
        if let Some(phase) = job.phases.current() {
            ui.label(format!("{}: {}", phase.name, phase.count_text()));
        }
        let epochs_started = job
            .phases
            .phases
            .iter()
            .any(|p| p.name == super::progress::TRAINING);
        ui.add(egui::Label::new(job.kind.cancel_consequence(epochs_started)).wrap());
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let keep = ui.button("Keep running");
            let stop = ui.button(
                RichText::new(format!("Stop {}", job.name)).color(theme::colours(ui).error_text),
            );
            // The safe answer has the keyboard from the moment the question shows (the
            // Cancel pressed with Space still had it); Tab moves on to Stop.
            let holds = |r: &egui::Response| ui.memory(|m| m.has_focus(r.id));
            if !holds(&keep) && !holds(&stop) {
                keep.request_focus();
            }
            if keep.clicked() {
                commands.push(JobCommand::KeepRunning.into());
            }
            if stop.clicked() {
                commands.push(JobCommand::ConfirmCancel.into());
            }
        });
    });
    if modal.should_close() {
        commands.push(JobCommand::KeepRunning.into());
    }
}

/// While a file is dragged over the window, a layer over everything says that dropping it
/// searches (a drop anywhere is a query, not only on the Search tab's empty drop zone).
pub(crate) fn drop_overlay_ui(ctx: &egui::Context) {
    let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
    if !hovering {
        return;
    }
    let screen = ctx.content_rect();
    egui::Area::new(egui::Id::unique("drop overlay"))
        .order(egui::Order::Foreground)
        .fixed_pos(screen.min)
        .interactable(false)
        .show(ctx, |ui| {
            let colours = theme::colours(ui);
            let rect = screen.shrink(theme::DROP_ZONE_MARGIN);
            ui.painter()
                .rect_filled(rect, 12.0, colours.drop_zone_hover.gamma_multiply(0.85));
            ui.painter().rect_stroke(
                rect,
                12.0,
                egui::Stroke::new(3.0, theme::ACCENT),
                egui::StrokeKind::Inside,
            );
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect).layout(
                egui::Layout::centered_and_justified(egui::Direction::TopDown),
            ));
            child.label(
                RichText::new("Drop the photo to search for similar items")
                    .heading()
                    .strong()
                    .color(colours.accent_text),
            );
        });
}

#[cfg(test)]
mod tests {
    #[test]
    fn zoom_steps_land_on_tenths_within_range() {
        assert!((super::next_zoom(1.0, 1) - 1.1).abs() < 1e-6);
        assert!((super::next_zoom(1.04, -1) - 0.9).abs() < 1e-6);
        assert_eq!(super::next_zoom(1.7, 0), 1.0);
        assert_eq!(super::next_zoom(3.0, 1), 3.0);
        assert_eq!(super::clamp_zoom(f32::NAN), 1.0);
    }
}
