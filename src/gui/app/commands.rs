//! [`App::apply`], the one place that carries out every [`Command`] (defined in
//! gui/command.rs), once per frame. Panels and tabs push commands while drawing; the window-wide ones
//! (tabs, library, jobs, theme, system, device) are handled here, and each tab's own commands
//! go to that tab's `handle`.

use super::App;
use crate::gui::command::SearchCommand;
use crate::gui::command::{Command, Tab};
use crate::gui::menu::{self};
use crate::gui::theme;
use crate::sources::demo::DemoOptions;
use eframe::egui;

impl App {
    /// Carries out one command.
    pub(in crate::gui) fn apply(&mut self, command: Command) {
        let rt = &mut self.rt;
        match command {
            Command::SelectTab(tab) => self.state.tab = tab,
            Command::PickLibraryFolder => self.pick_library_folder(),
            Command::OpenLibrary(dir) => {
                if let crate::gui::job_slot::JobState::Running(job) = &rt.jobs.current {
                    let message = format!(
                        "Cannot open another library while “{}” runs: wait for it or cancel it.",
                        job.name
                    );
                    rt.report(message);
                } else {
                    self.open_library(dir);
                }
            }
            Command::CreateDemo => self.start_demo(DemoOptions::default()),
            Command::Job(command) => self.apply_job_command(command),
            Command::PickImport(kind) => self.pick_import(kind),
            Command::Import(kind, path) => self.start_import(kind, path),
            Command::SetTheme(choice) => {
                self.state.theme = choice;
                theme::apply(&rt.ctx, choice);
            }
            Command::Zoom(step) => {
                self.state.zoom = menu::next_zoom(rt.ctx.zoom_factor(), step);
                rt.ctx.set_zoom_factor(self.state.zoom);
            }
            Command::ShowDialog(dialog) => rt.dialog = dialog,
            Command::Quit => rt.ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            Command::DismissError(i) => {
                if i < rt.errors.len() {
                    rt.errors.remove(i);
                }
            }
            Command::SelectSystem(name) => self.select_system(name),
            Command::SelectDevice(name) => self.select_device(name),
            Command::IndexCatalogue(precision) => {
                rt.index_system_at(self.state.system.clone(), precision)
            }
            Command::Catalog(command) => {
                self.tabs
                    .catalog
                    .handle(command, &mut self.state.filter, rt)
            }
            Command::Search(command) => {
                if let SearchCommand::Query(_) = &command {
                    // The results need the room; a click on one opens its details again.
                    self.state.tab = Tab::Search;
                    self.tabs.catalog.select(None, rt);
                }
                self.tabs.search.handle(command, &self.state.system, rt);
            }
            Command::Train(command) => self.tabs.train.handle(command, rt),
            Command::Personalize(command) => {
                self.tabs
                    .personalize
                    .handle(command, &self.state.system, rt)
            }
            Command::Evaluate(command) => {
                self.tabs.evaluate.handle(command, &mut self.state.ohs, rt)
            }
            Command::Analyze(command) => self.tabs.analyze.handle(command, &mut self.state.ohs, rt),
        }
    }
}
