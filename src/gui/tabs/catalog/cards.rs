//! What the Catalog tab shows instead of a catalogue: no library open, an empty library
//! (with the ways to fill it), or the demo catalogue being drawn with its progress and
//! Cancel.

use super::capitalised;
use super::import::{ImportView, import_button_ui};
use crate::gui::command::Command;
use crate::gui::command::ImportKind;
use crate::gui::command::JobCommand;
use crate::gui::job_slot::{JobState, RunningJob};
use crate::gui::{theme, widgets};
use crate::sources::demo::DemoOptions;
use eframe::egui;
use egui::{Align, Layout, RichText, Stroke, Ui};
use std::path::Path;

/// A card in the middle of the tab.
fn centred_card_ui(ui: &mut Ui, add_contents: impl FnOnce(&mut Ui)) {
    ui.add_space(ui.available_height() * 0.2);
    ui.vertical_centered(|ui| {
        egui::Frame::new()
            .fill(theme::colours(ui).card)
            .stroke(Stroke::new(1.0, theme::colours(ui).card_stroke))
            .corner_radius(theme::CARD_RADIUS)
            .inner_margin(24)
            .show(ui, |ui| {
                ui.set_width(theme::CARD_WIDTH);
                ui.with_layout(Layout::top_down(Align::Min), add_contents);
            });
    });
}

/// The first start: the demo catalogue being drawn.
pub(super) fn demo_progress_ui(
    ui: &mut Ui,
    running: &RunningJob,
    opts: &DemoOptions,
    commands: &mut Vec<Command>,
) {
    centred_card_ui(ui, |ui| {
        ui.label(RichText::new("Creating the demo catalogue…").heading());
        ui.add_space(6.0);
        ui.add(
            egui::Label::new(format!(
                "Vitrine is drawing {} shop photos of garments, {} shoppers with their \
                 purchases and {} street photos, so that everything can be tried without \
                 downloading a dataset. The catalogue appears here when it is ready.",
                opts.items,
                opts.users,
                opts.street.min(opts.items)
            ))
            .wrap(),
        );
        ui.add_space(10.0);
        let (fraction, text) = widgets::job_progress(running);
        ui.label(RichText::new(capitalised(&text)).weak());
        widgets::progress_bar_ui(ui, fraction, ui.available_width());
        ui.add_space(10.0);
        let cancel = ui.add_enabled(!running.cancelling, egui::Button::new("Cancel"));
        if cancel.clicked() {
            commands.push(JobCommand::Cancel.into());
        }
    });
}

/// An empty library, no job drawing it.
pub(super) fn empty_library_ui(
    ui: &mut Ui,
    job: &JobState,
    import: &mut ImportView,
    commands: &mut Vec<Command>,
) {
    let opts = DemoOptions::default();
    centred_card_ui(ui, |ui| {
        ui.label(RichText::new("This library is empty").heading());
        ui.add_space(6.0);
        if let JobState::Cancelled { .. } = job {
            ui.label(
                RichText::new("The demo catalogue was cancelled; nothing of it was kept.").weak(),
            );
        }
        ui.add(
            egui::Label::new(format!(
                "Draw the demo catalogue ({} shop photos, {} shoppers, {} street photos) to try \
                 Vitrine without a dataset, import a folder of your own photos (one folder per \
                 category), or import another catalogue (File > Import catalogue: a CSV, \
                 Fashion Product Images or DeepFashion In-shop). Either way the catalogue is \
                 indexed by itself, so the first search just works.",
                opts.items, opts.users, opts.street
            ))
            .wrap(),
        );
        ui.add_space(10.0);
        let running = matches!(job, JobState::Running(_));
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!running, egui::Button::new("Create the demo catalogue"))
                .clicked()
            {
                commands.push(Command::CreateDemo);
            }
            if ui.button("Import a CSV catalogue…").clicked() {
                commands.push(Command::PickImport(ImportKind::Csv));
            }
        });
        ui.add_space(6.0);
        import_button_ui(ui, import, commands);
    });
}

/// The library folder could not be opened (the banner says why).
pub(super) fn no_library_ui(ui: &mut Ui, dir: &Path, commands: &mut Vec<Command>) {
    centred_card_ui(ui, |ui| {
        ui.label(RichText::new("No library is open").heading());
        ui.add_space(6.0);
        ui.add(
            egui::Label::new(format!(
                "Vitrine could not open {} (the message above says why). Open another folder; \
                 an empty folder becomes a new library.",
                dir.display()
            ))
            .wrap(),
        );
        ui.add_space(10.0);
        if ui.button("Open library…").clicked() {
            commands.push(Command::PickLibraryFolder);
        }
    });
}
