//! The top bar and the status line.
//!
//! The top bar holds the menu bar, which library is open, which system searches run with,
//! and the row of tabs. Its items flow left to right and wrap onto a second row when the
//! window is narrow (1024 px, or 800 points at 2× scaling), so they never overlap.
//!
//! The background job lives in the status line at the bottom of the window: the outcome of
//! the job that handed it the slot (an import's, while its index runs), its name, one bar per
//! phase (caching, epochs, embedding …) with its count and time left, its Cancel (which asks
//! first for long jobs), and the jobs queued behind it. It wraps too.
//!
//! Both only read state and push [`Command`]s; `App::apply` does the rest. In a build with
//! CUDA on a machine with a GPU, the top bar also shows which device models run on (the CPU
//! by default).

use crate::gui::command::{Command, Tab};

use crate::gui::runtime::Runtime;

use super::job_slot::{JobKind, JobState};
use super::{menu, theme, widgets};
use crate::gui::command::JobCommand;
use crate::gui::ui_state::UiState;
use crate::index::Precision;
use crate::model::system::SystemInfo;
use eframe::egui;
use egui::{RichText, Ui};

/// Draws the top bar (menus, library, system, device) and the tab row under it;
/// `has_report`: the Analyze tab shows a report (File > Export exports it).
pub(crate) fn top_bar_ui(
    ui: &mut Ui,
    state: &UiState,
    rt: &Runtime,
    has_report: bool,
    commands: &mut Vec<Command>,
) {
    egui::Panel::top("top_bar")
        .frame(theme::panel_frame(ui))
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                menu::menu_bar_ui(ui, state, (rt, has_report), commands);
                ui.separator();
                ui.label(
                    RichText::new("Vitrine")
                        .strong()
                        .size(18.0)
                        .color(theme::colours(ui).accent_text),
                );
                ui.separator();
                library_ui(ui, rt, commands);
                ui.separator();
                system_ui(ui, state, rt, commands);
                if rt.devices.len() > 1 {
                    ui.separator();
                    device_ui(ui, rt, commands);
                }
            });
            ui.add_space(2.0);
            tabs_ui(ui, state.tab, commands);
        });
}

/// The library's folder (its end, which tells libraries apart) and a button to open another.
/// The group is laid out as one piece, so the wrapping row never splits it.
fn library_ui(ui: &mut Ui, rt: &Runtime, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let label = ui.label("Library");
        let full = rt.library_dir.display().to_string();
        let shown = shorten_path(&full, 32);
        ui.label(RichText::new(shown).monospace())
            .on_hover_text(full)
            .labelled_by(label.id);
        if ui
            .button("Open…")
            .on_hover_text("Open another library folder (an empty folder becomes a new library)")
            .clicked()
        {
            commands.push(Command::PickLibraryFolder);
        }
    });
}

fn system_ui(ui: &mut Ui, state: &UiState, rt: &Runtime, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
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
        let indexing =
            rt.job_pending(|k| matches!(k, JobKind::Index { system } if *system == state.system));
        let index = ui.add_enabled(
            rt.library.is_some() && !indexing,
            egui::Button::new("Index catalogue"),
        );
        if index
            .on_hover_text(
                "Embed every catalogue item with this system, so searches can use it (only new \
                 or changed items are embedded; the app does this by itself after the demo, \
                 an import, or when a search needs it)",
            )
            .on_disabled_hover_text("Indexing with this system is running or queued")
            .clicked()
        {
            commands.push(Command::IndexCatalogue(None));
        }
        let current = rt.index_precision_of(&state.system);
        precision_menu(ui, rt.library.is_some() && !indexing, current, commands);
    });
}

/// The precision of the current system's index (`current`, named on the menu's button and
/// marked inside it; `None`: no index yet): half precision (f16) halves its memory and makes
/// single searches of a big catalogue about twice as fast, for a recall the status line
/// reports when it is done.
fn precision_menu(
    ui: &mut Ui,
    enabled: bool,
    current: Option<Precision>,
    commands: &mut Vec<Command>,
) {
    let title = match current {
        Some(Precision::F32) => "Precision: f32",
        Some(Precision::F16) => "Precision: f16",
        None => "Precision",
    };
    ui.add_enabled_ui(enabled, |ui| {
        ui.menu_button(title, |ui| {
            let half = ui
                .add(
                    egui::Button::new("Index at half precision (f16)")
                        .selected(current == Some(Precision::F16)),
                )
                .on_hover_text(
                    "Store this system's index with 2 bytes a value: half the memory and disk, \
                     single searches of a big catalogue about twice as fast, at a small cost in \
                     recall (measured and shown when it is done). Updates keep the precision.",
                );
            if half.clicked() {
                commands.push(Command::IndexCatalogue(Some(Precision::F16)));
            }
            let full = ui
                .add(
                    egui::Button::new("Index at full precision (f32)")
                        .selected(current == Some(Precision::F32)),
                )
                .on_hover_text(
                    "Store this system's index with 4 bytes a value, exact scores (the default). \
                     An index at half precision is embedded again.",
                );
            if full.clicked() {
                commands.push(Command::IndexCatalogue(Some(Precision::F32)));
            }
        })
        .response
        .on_hover_text(match current {
            Some(_) => "How this system's index stores its rows (f32 or f16)",
            None => "How this system's index will store its rows (f32 or f16): it has no index yet",
        });
    });
}

/// Which device models run on: shown only where there is a choice (a CUDA build on a
/// machine with a GPU). Jobs started from then on, and the next search, use it.
fn device_ui(ui: &mut Ui, rt: &Runtime, commands: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let label = ui.label("Device");
        egui::ComboBox::from_id_salt("device")
            .selected_text(&rt.device)
            .show_ui(ui, |ui| {
                for &name in &rt.devices {
                    let chosen = name == rt.device;
                    if ui.selectable_label(chosen, name).clicked() && !chosen {
                        commands.push(Command::SelectDevice(name.to_owned()));
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("Where indexing, search, training and studies run their models");
    });
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

/// The status line at the bottom of the window: the running job with its phases and
/// Cancel, the queue behind it, or the last job's outcome.
pub(crate) fn status_line_ui(ui: &mut Ui, rt: &Runtime, commands: &mut Vec<Command>) {
    egui::Panel::bottom("status_line")
        .frame(theme::panel_frame(ui))
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                if let (Some(previous), JobState::Running(_)) =
                    (&rt.jobs.previous, &rt.jobs.current)
                {
                    ui.add(egui::Label::new(RichText::new(previous).weak()).extend());
                    ui.separator();
                }
                job_ui(ui, &rt.jobs.current, commands);
                for (i, queued) in rt.jobs.queue.iter().enumerate() {
                    ui.separator();
                    ui.add(
                        egui::Label::new(RichText::new(format!("then: {}", queued.name)).weak())
                            .extend(),
                    );
                    if ui
                        .small_button("Remove")
                        .on_hover_text("Take this job out of the queue")
                        .clicked()
                    {
                        commands.push(JobCommand::RemoveQueued(i).into());
                    }
                }
            });
        });
}

/// The running job (name, a bar per phase, Cancel), or the last job's outcome.
fn job_ui(ui: &mut Ui, job: &JobState, commands: &mut Vec<Command>) {
    match job {
        JobState::Idle => {
            ui.label(RichText::new("Ready").weak());
        }
        JobState::Running(running) => {
            // Each piece moves whole to the next line when the row is full (a wrapped
            // label's box would cover the row's start).
            ui.add(egui::Label::new(RichText::new(&running.name).strong()).extend());
            widgets::phases_ui(ui, running, theme::TOP_BAR_PROGRESS_WIDTH);
            let cancel = ui.add_enabled(!running.cancelling, egui::Button::new("Cancel"));
            let hover = if running.kind.asks_before_cancel() {
                "Stop this job (asks first)"
            } else {
                "Stop this job; nothing half-done is kept"
            };
            if cancel.on_hover_text(hover).clicked() {
                commands.push(JobCommand::Cancel.into());
            }
        }
        JobState::Done { name, summary } => {
            ui.label(RichText::new(summary).weak())
                .on_hover_text(format!("{name}: done"));
        }
        JobState::Cancelled { name } => {
            ui.label(RichText::new(format!("{name}: cancelled")).weak());
        }
        JobState::Failed { name, message } => {
            ui.label(RichText::new(format!("{name}: failed")).color(theme::colours(ui).error_text))
                .on_hover_text(message);
        }
    }
}

fn tabs_ui(ui: &mut Ui, current: Tab, commands: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
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
