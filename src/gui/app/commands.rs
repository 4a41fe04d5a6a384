//! [`Command`]: every UI action, typed, and [`App::apply`], the one place that carries them
//! out, once per frame. Panels and tabs push commands while drawing; the window-wide ones
//! (tabs, library, jobs, theme, system, device) are handled here, and each tab's own commands
//! go to that tab's `handle`.

use super::{App, Tab};
use crate::gui::job_slot::JobCommand;
use crate::gui::menu::{self, Dialog, ImportKind};
use crate::gui::tabs::analyze::AnalyzeCommand;
use crate::gui::tabs::catalog::CatalogCommand;
use crate::gui::tabs::evaluate::EvaluateCommand;
use crate::gui::tabs::personalize::PersonalizeCommand;
use crate::gui::tabs::search::SearchCommand;
use crate::gui::tabs::train::TrainCommand;
use crate::gui::theme;
use crate::sources::demo::DemoOptions;
use eframe::egui;
use std::path::PathBuf;

/// A UI action. Panels push these; [`App::apply`] carries them out, once per frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    SelectTab(Tab),
    /// Show the folder picker (on its own thread) to open another library.
    PickLibraryFolder,
    OpenLibrary(PathBuf),
    /// Draw the demo catalogue (default size) into the open, empty library.
    CreateDemo,
    /// Cancel (asking first for long jobs), its confirmation, or a queued job removed.
    Job(JobCommand),
    /// Show the file or folder picker for a catalogue import (File > Import).
    PickImport(ImportKind),
    /// Import the catalogue at this path as a job; its index follows by itself.
    Import(ImportKind, PathBuf),
    /// View > Theme.
    SetTheme(theme::ThemeChoice),
    /// View > Zoom: in (+1), out (-1) or back to 100 % (0).
    Zoom(i32),
    /// Show (or close) a dialog: the shortcut sheet (F1, ?) or About.
    ShowDialog(Option<Dialog>),
    /// File > Quit.
    Quit,
    DismissError(usize),
    /// Use this system for searches and indexing.
    SelectSystem(String),
    /// Run every model on this device from now on (the top bar's picker, shown in CUDA
    /// builds on a machine with a GPU).
    SelectDevice(String),
    /// Embed the catalogue items the current system's index lacks (a background job).
    IndexCatalogue,
    /// A Catalog tab action (filters, the selected item).
    Catalog(CatalogCommand),
    /// A Search tab action; every query (a dropped or opened photo, a pasted image, "Search
    /// similar") is [`SearchCommand::Query`].
    Search(SearchCommand),
    /// A Train tab action.
    Train(TrainCommand),
    /// A Personalize tab action.
    Personalize(PersonalizeCommand),
    /// A scorer's or a study author's action (Evaluate tab).
    Evaluate(EvaluateCommand),
    /// An analyst's action (Analyze tab, and File > Export).
    Analyze(AnalyzeCommand),
}

impl From<JobCommand> for Command {
    fn from(c: JobCommand) -> Command {
        Command::Job(c)
    }
}

impl From<CatalogCommand> for Command {
    fn from(c: CatalogCommand) -> Command {
        Command::Catalog(c)
    }
}

impl From<SearchCommand> for Command {
    fn from(c: SearchCommand) -> Command {
        Command::Search(c)
    }
}

impl From<TrainCommand> for Command {
    fn from(c: TrainCommand) -> Command {
        Command::Train(c)
    }
}

impl From<PersonalizeCommand> for Command {
    fn from(c: PersonalizeCommand) -> Command {
        Command::Personalize(c)
    }
}

impl From<EvaluateCommand> for Command {
    fn from(c: EvaluateCommand) -> Command {
        Command::Evaluate(c)
    }
}

impl From<AnalyzeCommand> for Command {
    fn from(c: AnalyzeCommand) -> Command {
        Command::Analyze(c)
    }
}

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
            Command::IndexCatalogue => rt.index_system(self.state.system.clone()),
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
