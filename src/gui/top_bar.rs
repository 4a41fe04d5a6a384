//! The top bar: which library is open (and a button to open another), which system searches
//! run with, the background job with its progress and a Cancel button, and the row of tabs.
//!
//! It only reads state and pushes [`Command`]s; `App::apply` does the rest.

use super::{Command, JobState, Runtime, Tab, UiState, theme, widgets};
use crate::model::system::SystemInfo;
use eframe::egui;
use egui::{Align, Layout, RichText, Ui};

/// Draws the top bar (library, system, job) and the tab row under it.
pub(crate) fn top_bar_ui(ui: &mut Ui, state: &UiState, rt: &Runtime, commands: &mut Vec<Command>) {
    egui::Panel::top("top_bar")
        .frame(theme::panel_frame())
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new("Vitrine")
                        .strong()
                        .size(18.0)
                        .color(theme::ACCENT),
                );
                ui.separator();
                library_ui(ui, rt, commands);
                ui.separator();
                system_ui(ui, state, rt, commands);
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    job_ui(ui, &rt.job, commands);
                });
            });
            ui.add_space(2.0);
            tabs_ui(ui, state.tab, commands);
        });
}

fn library_ui(ui: &mut Ui, rt: &Runtime, commands: &mut Vec<Command>) {
    let label = ui.label("Library");
    let full = rt.library_dir.display().to_string();
    let shown = shorten_path(&full, 48);
    ui.label(RichText::new(shown).monospace())
        .on_hover_text(full)
        .labelled_by(label.id);
    if ui
        .button("Open library…")
        .on_hover_text("Open another library folder (an empty folder becomes a new library)")
        .clicked()
    {
        commands.push(Command::PickLibraryFolder);
    }
}

fn system_ui(ui: &mut Ui, state: &UiState, rt: &Runtime, commands: &mut Vec<Command>) {
    let label = ui.label("System");
    let current = rt.systems.iter().find(|s| s.name == state.system);
    egui::ComboBox::from_id_salt("system")
        .selected_text(&state.system)
        .show_ui(ui, |ui| {
            for system in &rt.systems {
                let chosen = system.name == state.system;
                if ui
                    .selectable_label(chosen, &system.name)
                    .on_hover_text(system_description(system))
                    .clicked()
                    && !chosen
                {
                    commands.push(Command::SelectSystem(system.name.clone()));
                }
            }
        })
        .response
        .labelled_by(label.id)
        .on_hover_text(current.map(system_description).unwrap_or_default());
    let running = matches!(rt.job, JobState::Running(_));
    let index = ui.add_enabled(
        rt.library.is_some() && !running,
        egui::Button::new("Index catalogue"),
    );
    if index
        .on_hover_text(
            "Embed every catalogue item with this system, so searches can use it \
             (only new or changed items are embedded)",
        )
        .on_disabled_hover_text("One background job at a time")
        .clicked()
    {
        commands.push(Command::IndexCatalogue);
    }
}

/// What a system is, for its tooltip.
fn system_description(system: &SystemInfo) -> String {
    let origin = if system.builtin {
        "built in"
    } else {
        "trained in this library"
    };
    format!(
        "{}: {} backbone, {}-d embeddings, {} labels ({origin})",
        system.name, system.backbone, system.embedding_dim, system.label_count
    )
}

/// The running job (right-aligned, so drawn right to left), or the last job's outcome.
fn job_ui(ui: &mut Ui, job: &JobState, commands: &mut Vec<Command>) {
    match job {
        JobState::Idle => {}
        JobState::Running(running) => {
            let cancel = ui.add_enabled(!running.cancelling, egui::Button::new("Cancel"));
            if cancel
                .on_hover_text("Stop this job; nothing half-done is kept")
                .clicked()
            {
                commands.push(Command::CancelJob);
            }
            let (fraction, text) = widgets::job_progress(running);
            ui.label(
                RichText::new(format!("{:.0} %", fraction * 100.0))
                    .small()
                    .color(theme::TEXT_WEAK),
            );
            widgets::progress_bar_ui(ui, fraction, theme::TOP_BAR_PROGRESS_WIDTH)
                .on_hover_text(&text);
            ui.label(RichText::new(&running.name).strong())
                .on_hover_text(text);
        }
        JobState::Done { name, summary } => {
            ui.label(RichText::new(summary).color(theme::TEXT_WEAK))
                .on_hover_text(format!("{name}: done"));
        }
        JobState::Cancelled { name } => {
            ui.label(RichText::new(format!("{name}: cancelled")).color(theme::TEXT_WEAK));
        }
        JobState::Failed { name, message } => {
            ui.label(RichText::new(format!("{name}: failed")).color(theme::ERROR_TEXT))
                .on_hover_text(message);
        }
    }
}

fn tabs_ui(ui: &mut Ui, current: Tab, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        for tab in Tab::ALL {
            let selected = tab == current;
            let text = if selected {
                RichText::new(tab.title()).strong().color(theme::ON_ACCENT)
            } else {
                RichText::new(tab.title())
            };
            let mut button = egui::Button::selectable(selected, text).min_size([92.0, 26.0].into());
            if selected {
                button = button.fill(theme::ACCENT);
            }
            let shortcut = ui.ctx().format_shortcut(&tab.shortcut());
            if ui.add(button).on_hover_text(shortcut).clicked() {
                commands.push(Command::SelectTab(tab));
            }
        }
    });
}

/// `path` cut to about `max_chars`, keeping its end (the part that tells libraries apart).
fn shorten_path(path: &str, max_chars: usize) -> String {
    let count = path.chars().count();
    if count <= max_chars {
        return path.to_owned();
    }
    let tail: String = path.chars().skip(count - (max_chars - 1)).collect();
    format!("…{tail}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_paths_keep_their_end() {
        assert_eq!(super::shorten_path("/a/b", 10), "/a/b");
        let s = super::shorten_path("/home/someone/.local/share/vitrine/default", 20);
        assert!(s.starts_with('…') && s.ends_with("vitrine/default"), "{s}");
        assert_eq!(s.chars().count(), 20);
    }
}
