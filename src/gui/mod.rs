//! The desktop app (eframe, glow renderer): a thin shell over the library.
//!
//! Shape, after rerun's app split:
//! - `App::logic` (eframe's state step) updates state and never paints: it collects finished
//!   jobs, the folder picker's answer and loaded thumbnails, and applies every `Command`
//!   queued since the last frame, in one place (`App::apply`). Keyboard shortcuts are read
//!   at the end of `App::ui`, once the frame's clicks have placed the keyboard focus (see
//!   `App::read_shortcuts`).
//! - `App::ui` paints: the top bar (`top_bar`), error banners, the tab row, and the current
//!   tab (`search_tab`, `catalog_tab`, `train_tab`, `personalize_tab`, `evaluate_tab`,
//!   `analyze_tab`), each a function of the runtime state that pushes commands.
//!   Drawing code never touches the store or starts work; it pushes commands.
//! - Persisted UI state ([`UiState`]: tab, filters, thumbnail size; saved through eframe's
//!   storage) is kept apart from runtime state (`Runtime`: the open library, the running
//!   job, textures), which is rebuilt at every start.
//!
//! Slow work never runs on the UI thread: the demo catalogue is a [`Job`] on a worker thread
//! that reports progress and can be cancelled; thumbnails load on worker threads (`thumbs`);
//! the folder picker runs on its own thread. Errors are shown once, as a dismissible banner,
//! and the app keeps working. Colours and spacing live in `theme` only.

mod analyze_tab;
mod catalog_tab;
mod cutouts;
mod evaluate_tab;
mod import;
mod job_slot;
mod menu;
mod personalize_tab;
mod progress;
mod search_tab;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ohs;
#[cfg(test)]
mod tests_personalize;
#[cfg(test)]
mod tests_train;
#[cfg(test)]
mod tests_window;
mod theme;
mod thumbs;
mod top_bar;
mod train_tab;
mod widgets;

use crate::catalog::{Item, ItemId, Label, LabelGroup};
use crate::error::{Error, Result};
use crate::library::Library;
use crate::model::system::{self, System, SystemInfo};
use crate::sources::demo::DemoOptions;
use crate::store::{ItemFilter, LabelCount};
use eframe::egui;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use thumbs::ThumbCache;

pub(crate) use job_slot::{JobCommand, JobKind, JobOutput, JobState, Jobs, RunningJob};

/// The window title (our screenshot tool finds the window by `^Vitrine`).
pub const WINDOW_TITLE: &str = "Vitrine";

/// Opens the desktop app on the library at `library_dir` and returns when the window closes.
pub fn run(library_dir: PathBuf) -> Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(WINDOW_TITLE)
            .with_app_id("vitrine")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([760.0, 480.0])
            .with_icon(app_icon()),
        ..Default::default()
    };
    eframe::run_native(
        "vitrine",
        options,
        Box::new(move |cc| Ok(Box::new(App::new(cc, library_dir)))),
    )
    .map_err(|e| Error::Invalid(format!("cannot open the Vitrine window: {e}")))
}

/// The window icon: the app's icon from `assets/`, built into the binary.
fn app_icon() -> egui::IconData {
    const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");
    match image::load_from_memory(ICON_PNG) {
        Ok(img) => {
            let rgba = img.into_rgba8();
            egui::IconData {
                width: rgba.width(),
                height: rgba.height(),
                rgba: rgba.into_raw(),
            }
        }
        // Cannot happen with the PNG we ship; without it the window just has no icon.
        Err(_) => egui::IconData::default(),
    }
}

/// What to do when the app opens its library.
#[derive(Debug, Clone, PartialEq)]
pub enum Startup {
    /// Show the library as it is (an empty one shows a button to create the demo).
    AsIs,
    /// If the library has no items, draw the demo catalogue with these options in a
    /// background job right away (what a newcomer's first start does, with the defaults).
    CreateDemoIfEmpty(DemoOptions),
}

impl Default for Startup {
    /// The first-start behaviour: the full demo catalogue (2000 items) if the library is empty.
    fn default() -> Self {
        Startup::CreateDemoIfEmpty(DemoOptions::default())
    }
}

/// The tabs, in the order they are shown (Ctrl+1 … Ctrl+6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    Search,
    #[default]
    Catalog,
    Train,
    Personalize,
    Evaluate,
    Analyze,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Search,
        Tab::Catalog,
        Tab::Train,
        Tab::Personalize,
        Tab::Evaluate,
        Tab::Analyze,
    ];

    /// The name on the tab.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Search => "Search",
            Tab::Catalog => "Catalog",
            Tab::Train => "Train",
            Tab::Personalize => "Personalize",
            Tab::Evaluate => "Evaluate",
            Tab::Analyze => "Analyze",
        }
    }

    /// Its keyboard shortcut (Ctrl+1 … Ctrl+6; Cmd on macOS).
    pub fn shortcut(self) -> egui::KeyboardShortcut {
        let key = match self {
            Tab::Search => egui::Key::Num1,
            Tab::Catalog => egui::Key::Num2,
            Tab::Train => egui::Key::Num3,
            Tab::Personalize => egui::Key::Num4,
            Tab::Evaluate => egui::Key::Num5,
            Tab::Analyze => egui::Key::Num6,
        };
        egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, key)
    }
}

/// UI state saved between runs (eframe storage). Every field has a default, so a state
/// saved by an older version still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    pub tab: Tab,
    pub filter: CatalogFilter,
    /// The side of a thumbnail in the catalogue grid, in points.
    pub thumb_size: f32,
    /// The system searches and indexing use (a name from `vitrine systems`).
    pub system: String,
    /// The study being scored or analysed, to resume after a restart.
    pub ohs: evaluate_tab::OhsUiState,
    /// Light, dark, or as the desktop is (View > Theme).
    pub theme: theme::ThemeChoice,
    /// The zoom factor (View > Zoom; Ctrl+Plus, Ctrl+Minus, Ctrl+0).
    pub zoom: f32,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            tab: Tab::default(),
            filter: CatalogFilter::default(),
            thumb_size: theme::THUMB_SIZE_DEFAULT,
            system: system::IMAGENET_LITE0.to_owned(),
            ohs: evaluate_tab::OhsUiState::default(),
            theme: theme::ThemeChoice::default(),
            zoom: 1.0,
        }
    }
}

/// The catalogue filters: a text that the title or key contains, and labels that must all
/// be present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogFilter {
    pub text: String,
    pub labels: Vec<Label>,
}

impl CatalogFilter {
    fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.labels.is_empty()
    }

    fn to_item_filter(&self) -> ItemFilter {
        ItemFilter {
            labels: self.labels.clone(),
            text: Some(self.text.clone()).filter(|t| !t.trim().is_empty()),
        }
    }
}

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
    PickImport(menu::ImportKind),
    /// Import the catalogue at this path as a job; its index follows by itself.
    Import(menu::ImportKind, PathBuf),
    /// View > Theme.
    SetTheme(theme::ThemeChoice),
    /// View > Zoom: in (+1), out (-1) or back to 100 % (0).
    Zoom(i32),
    /// Show (or close) a dialog: the shortcut sheet (F1, ?) or About.
    ShowDialog(Option<menu::Dialog>),
    /// File > Quit.
    Quit,
    DismissError(usize),
    SetSearchText(String),
    ToggleLabel(Label),
    ClearFilters,
    /// Open (or with `None`, close) the detail view of an item.
    SelectItem(Option<ItemId>),
    /// Move the selection by this many items in the filtered list (arrow keys).
    MoveSelection(isize),
    /// Use this system for searches and indexing.
    SelectSystem(String),
    /// Embed the catalogue items the current system's index lacks (a background job).
    IndexCatalogue,
    /// Search with a photo from disk (dropped, or chosen with the file picker).
    SearchFile(PathBuf),
    /// Search with a catalogue item ("Search similar", a double-click on a result).
    SearchItem(ItemId),
    /// Show the query this many steps back (-1) or forward (1) in the history.
    SearchHistory(isize),
    /// Show the file picker for a query photo (on its own thread).
    PickQueryFile,
    /// Only show results of this category (`None`: all), and run the query again.
    SetSearchCategory(Option<String>),
    /// Compare mode: also run each query with this system (`None`: off), and run it again.
    SetCompareSystem(Option<String>),
    /// Train a new system with the Train tab's form (or resume the run of its name).
    StartTraining {
        resume: bool,
    },
    /// Draw the Train tab's augmentation preview.
    PreviewAugmentation,
    /// Show the folder picker for background scenes.
    PickBackgroundFolder,
    /// Check the background cut-out on a sample of the catalogue (Train tab).
    CheckCutouts,
    /// A study action (Evaluate and Analyze tabs).
    Ohs(evaluate_tab::OhsCommand),
    /// A Personalize tab action.
    Personalize(personalize_tab::PersonalizeCommand),
}

/// The catalogue as the Catalog tab shows it: the filtered items and the label counts.
#[derive(Default)]
pub(crate) struct CatalogView {
    /// The items that pass the current filter, in id order.
    pub items: Vec<Item>,
    /// All items in the library.
    pub total_items: u64,
    /// Every label with its item count, grouped (category first, then subtype, colour …),
    /// most frequent first within a group.
    pub label_groups: Vec<(LabelGroup, Vec<LabelCount>)>,
}

/// Where the grid is, so the keyboard can move the selection and keep it in view.
#[derive(Debug, Clone, Default)]
pub(crate) struct GridLayout {
    /// Thumbnails per row at the current width.
    pub columns: usize,
    /// Ask the grid to scroll this item index into view on the next frame.
    pub scroll_to_index: Option<usize>,
    /// The grid's scroll offset and visible height at the last frame, in points.
    pub offset_y: f32,
    pub view_height: f32,
}

/// Runtime state: rebuilt at every start, never saved.
pub(crate) struct Runtime {
    ctx: egui::Context,
    pub library_dir: PathBuf,
    pub library: Option<Library>,
    /// The systems of the open library (built-in and trained), for the system picker.
    pub systems: Vec<SystemInfo>,
    pub catalog: CatalogView,
    pub job: JobState,
    /// The jobs waiting for the slot, and a Cancel waiting for its confirmation.
    pub jobs: Jobs,
    /// The dialog on show (shortcut sheet, About).
    pub dialog: Option<menu::Dialog>,
    /// The import picker's answer arrives here.
    import_picker: Option<Receiver<Option<(menu::ImportKind, PathBuf)>>>,
    /// The folder picker's answer arrives here (`None`: cancelled).
    picker: Option<Receiver<Option<PathBuf>>>,
    /// Errors not yet dismissed, oldest first.
    pub errors: Vec<String>,
    pub commands: Vec<Command>,
    pub selected: Option<ItemId>,
    /// The selected item with its labels.
    pub detail: Option<Item>,
    pub thumbs: ThumbCache,
    /// A text field had the keyboard when the frame began (set in `logic`): plain keys are
    /// then text, never shortcuts, even if the field lets go during the frame (Enter).
    pub typing_at_start: bool,
    pub grid: GridLayout,
    pub search: search_tab::SearchView,
    pub train: train_tab::TrainView,
    pub evaluate: evaluate_tab::EvaluateView,
    pub analyze: evaluate_tab::AnalyzeView,
    pub personalize: personalize_tab::PersonalizeView,
    pub import: import::ImportView,
    pub cutouts: cutouts::CutoutView,
}

impl Runtime {
    /// Whether a job `wanted` picks is running (and not being cancelled) or queued.
    pub(crate) fn job_pending_of(&self, wanted: impl Fn(&JobKind) -> bool) -> bool {
        job_slot::job_pending(&self.job, &self.jobs, wanted)
    }
}

/// The Vitrine desktop app.
pub struct App {
    state: UiState,
    rt: Runtime,
}

impl App {
    /// The app as a user starts it: opens `library_dir` and, if it is empty, draws the demo
    /// catalogue (2000 items) in the background.
    pub fn new(cc: &eframe::CreationContext<'_>, library_dir: PathBuf) -> App {
        App::new_with(cc, library_dir, Startup::default())
    }

    /// The app with an explicit start-up behaviour (tests use [`Startup::AsIs`] or a small
    /// demo).
    pub fn new_with(
        cc: &eframe::CreationContext<'_>,
        library_dir: PathBuf,
        startup: Startup,
    ) -> App {
        let state: UiState = cc
            .storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        theme::apply(&cc.egui_ctx, state.theme);
        cc.egui_ctx.set_zoom_factor(menu::clamp_zoom(state.zoom));
        let mut app = App {
            state,
            rt: Runtime {
                ctx: cc.egui_ctx.clone(),
                library_dir: library_dir.clone(),
                library: None,
                systems: Vec::new(),
                catalog: CatalogView::default(),
                job: JobState::Idle,
                jobs: Jobs::default(),
                dialog: None,
                import_picker: None,
                picker: None,
                errors: Vec::new(),
                commands: Vec::new(),
                selected: None,
                detail: None,
                thumbs: ThumbCache::new(&cc.egui_ctx),
                typing_at_start: false,
                grid: GridLayout::default(),
                search: search_tab::SearchView::default(),
                train: train_tab::TrainView::default(),
                evaluate: evaluate_tab::EvaluateView::default(),
                analyze: evaluate_tab::AnalyzeView::default(),
                personalize: personalize_tab::PersonalizeView::default(),
                import: import::ImportView::default(),
                cutouts: cutouts::CutoutView::default(),
            },
        };
        app.open_library(library_dir);
        if let Startup::CreateDemoIfEmpty(opts) = startup
            && app.rt.library.is_some()
            && app.rt.catalog.total_items == 0
        {
            app.start_demo(opts);
        }
        app
    }

    /// Carries out one command.
    fn apply(&mut self, command: Command) {
        match command {
            Command::SelectTab(tab) => self.state.tab = tab,
            Command::PickLibraryFolder => self.pick_library_folder(),
            Command::OpenLibrary(dir) => {
                if let JobState::Running(job) = &self.rt.job {
                    self.report(format!(
                        "Cannot open another library while “{}” runs: wait for it or cancel it.",
                        job.name
                    ));
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
                theme::apply(&self.rt.ctx, choice);
            }
            Command::Zoom(step) => {
                self.state.zoom = menu::next_zoom(self.rt.ctx.zoom_factor(), step);
                self.rt.ctx.set_zoom_factor(self.state.zoom);
            }
            Command::ShowDialog(dialog) => self.rt.dialog = dialog,
            Command::Quit => self.rt.ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            Command::DismissError(i) => {
                if i < self.rt.errors.len() {
                    self.rt.errors.remove(i);
                }
            }
            Command::SetSearchText(text) => {
                self.state.filter.text = text;
                self.query_items();
            }
            Command::ToggleLabel(label) => {
                let labels = &mut self.state.filter.labels;
                if let Some(i) = labels.iter().position(|l| *l == label) {
                    labels.remove(i);
                } else {
                    labels.push(label);
                }
                self.query_items();
            }
            Command::ClearFilters => {
                self.state.filter = CatalogFilter::default();
                self.query_items();
            }
            Command::SelectItem(id) => self.select(id),
            Command::MoveSelection(delta) => self.move_selection(delta),
            Command::SelectSystem(name) => self.select_system(name),
            Command::IndexCatalogue => self.start_index(),
            Command::SearchFile(path) => self.search(search_tab::QuerySource::File(path)),
            Command::SearchItem(id) => {
                let title = self.item_title(id);
                self.search(search_tab::QuerySource::Item { id, title });
            }
            Command::SearchHistory(delta) => {
                let view = &mut self.rt.search;
                let next = view.position.saturating_add_signed(delta);
                if next != view.position && next < view.history.len() {
                    view.position = next;
                    let source = view.history[next].clone();
                    self.run_query(source, false);
                }
            }
            Command::PickQueryFile => self.pick_query_file(),
            Command::StartTraining { resume } => self.start_train(resume),
            Command::PreviewAugmentation => self.start_preview(),
            Command::CheckCutouts => self.start_cutout_check(),
            Command::PickBackgroundFolder => self.pick_background_folder(),
            Command::Ohs(command) => self.apply_ohs(command),
            Command::SetCompareSystem(system) => {
                self.rt.search.compare_with = system;
                if let Some(source) = self.rt.search.history.get(self.rt.search.position) {
                    let source = source.clone();
                    self.run_query(source, false);
                }
            }
            Command::Personalize(command) => self.apply_personalize(command),
            Command::SetSearchCategory(category) => {
                self.rt.search.category = category;
                if let Some(source) = self.rt.search.history.get(self.rt.search.position) {
                    let source = source.clone();
                    self.run_query(source, false);
                }
            }
        }
    }

    /// Searches with `source`: a new entry in the history, shown in the Search tab.
    /// (A query that fails, such as a dropped text file, does not enter the history.)
    fn search(&mut self, source: search_tab::QuerySource) {
        self.state.tab = Tab::Search;
        // The results need the room; a click on one opens its details again.
        self.select(None);
        self.run_query(source, true);
    }

    /// Runs a query on a worker thread, or queues it behind the one running; `record` adds it
    /// to the history once it succeeds (history navigation and filter changes do not). A
    /// query whose system is being indexed (or is queued for it) waits for that index.
    fn run_query(&mut self, source: search_tab::QuerySource, record: bool) {
        self.run_query_as(source, record, false);
    }

    fn run_query_as(&mut self, source: search_tab::QuerySource, record: bool, after_index: bool) {
        if self.rt.library.is_none() {
            self.report("Open a library before searching.".to_owned());
            return;
        }
        let systems = self.rt.search.systems_for(&self.state.system);
        let indexing: Vec<String> = systems
            .into_iter()
            .filter(|s| self.job_pending(|k| matches!(k, JobKind::Index { system } if system == s)))
            .collect();
        if !indexing.is_empty() {
            self.rt.search.waiting = Some(search_tab::WaitingQuery {
                source,
                record,
                systems: indexing,
            });
            return;
        }
        if self.rt.search.running.is_some() {
            self.rt.search.pending = Some((source, record));
            return;
        }
        let ctx = self.rt.ctx.clone();
        let notify: crate::jobs::Notify = Arc::new(move || ctx.request_repaint());
        search_tab::start_query(
            &mut self.rt.search,
            &self.rt.library_dir,
            &self.state.system,
            (source, record, after_index),
            notify,
        );
    }

    /// Indexing with `system` ended (`indexed`: it made an index). A query waiting for it
    /// runs now; if indexing was cancelled or failed, the query is dropped with a word why.
    pub(super) fn index_ended(&mut self, system: &str, indexed: bool) {
        let Some(waiting) = &mut self.rt.search.waiting else {
            return;
        };
        if !waiting.systems.iter().any(|s| s == system) {
            return;
        }
        if !indexed {
            self.rt.search.waiting = None;
            self.report(format!(
                "The search waited for the index of {system}, and indexing stopped before it was \
                 done. Search again to index and search."
            ));
            return;
        }
        waiting.systems.retain(|s| s != system);
        if waiting.systems.is_empty()
            && let Some(w) = self.rt.search.waiting.take()
        {
            self.run_query_as(w.source, w.record, true);
        }
    }

    /// Searches and indexes with `name` from now on. The results on show belong to the
    /// previous system: they go, and the query on show runs again with this one.
    fn select_system(&mut self, name: String) {
        if name == self.state.system {
            return;
        }
        self.state.system = name;
        let search = &mut self.rt.search;
        if search.compare_with.as_deref() == Some(self.state.system.as_str()) {
            search.compare_with = None;
        }
        search.shown = None;
        search.pending = None;
        search.waiting = None;
        if let Some(source) = search.history.get(search.position).cloned() {
            self.run_query(source, false);
        }
    }

    /// Collects a finished query: its results go on show; an error goes to the banner and
    /// the previous results stay. A query whose index is missing or out of date queues the
    /// indexing and waits for it.
    fn poll_search(&mut self) {
        if let Some(rx) = &self.rt.search.picker {
            match rx.try_recv() {
                Ok(answer) => {
                    self.rt.search.picker = None;
                    if let Some(path) = answer {
                        self.search(search_tab::QuerySource::File(path));
                    }
                }
                Err(TryRecvError::Disconnected) => self.rt.search.picker = None,
                Err(TryRecvError::Empty) => {}
            }
        }
        let finished = self
            .rt
            .search
            .running
            .as_mut()
            .and_then(|r| r.job.try_finish());
        let Some(outcome) = finished else {
            return;
        };
        let Some(running) = self.rt.search.running.take() else {
            return;
        };
        let answer = outcome.and_then(|output| {
            self.rt.search.searchers = output.searchers;
            output.result
        });
        match answer {
            // The system changed while it ran: the query runs again with the new one
            // (`select_system` queued it), and this answer is not for the screen.
            Ok(_) if running.system != self.state.system => {}
            Ok(search_tab::QueryAnswer::Found(result, compared)) => {
                self.show_results(running.source.clone(), running.record, result, compared);
            }
            Ok(search_tab::QueryAnswer::NeedsIndex(systems)) if running.after_index => {
                self.report(format!(
                    "Cannot search with {}: its index still does not cover the catalogue after \
                     indexing (the status line and the banner say which images could not be \
                     read).",
                    systems.join(" and ")
                ));
            }
            Ok(search_tab::QueryAnswer::NeedsIndex(systems)) => {
                for system in &systems {
                    self.index_system(system.clone());
                }
                self.rt.search.waiting = Some(search_tab::WaitingQuery {
                    source: running.source,
                    record: running.record,
                    systems,
                });
            }
            Err(e) => self.report(format!("Search failed: {e}")),
        }
        if let Some((next, record)) = self.rt.search.pending.take() {
            self.run_query(next, record);
        }
    }

    /// Puts a query's results on show (and in the history when `record`).
    fn show_results(
        &mut self,
        source: search_tab::QuerySource,
        record: bool,
        result: crate::search::QueryResult,
        compared: Option<crate::search::QueryResult>,
    ) {
        if record {
            let view = &mut self.rt.search;
            if !view.history.is_empty() {
                view.history.truncate(view.position + 1);
            }
            view.history.push(source.clone());
            view.position = view.history.len() - 1;
        }
        let pasted_texture = match &source {
            search_tab::QuerySource::Pasted(img) => {
                Some(search_tab::pasted_texture(&self.rt.ctx, img))
            }
            _ => None,
        };
        let compared =
            compared.and_then(|c| self.rt.search.compare_with.clone().map(|name| (name, c)));
        self.rt.search.shown = Some(search_tab::ShownQuery {
            source,
            system: self.state.system.clone(),
            result,
            compared,
            pasted_texture,
        });
    }

    /// The title of an item, for the query history ("Search similar" to it).
    fn item_title(&self, id: ItemId) -> String {
        if let Some(item) = self.rt.catalog.items.iter().find(|it| it.id == id) {
            return item.title.clone();
        }
        self.rt
            .library
            .as_ref()
            .and_then(|lib| lib.store.item(id).ok().flatten())
            .map(|item| item.title)
            .unwrap_or_else(|| format!("item {id}"))
    }

    /// Shows the file picker for a query photo on its own thread.
    fn pick_query_file(&mut self) {
        if self.rt.search.picker.is_some() {
            return;
        }
        let spawned = off_ui_thread(&self.rt.ctx, "image picker", || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Search with a photo")
                .add_filter(
                    "Images",
                    &["png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff"],
                )
                .pick_file();
            block_on(dialog).map(|f| f.path().to_path_buf())
        });
        match spawned {
            Ok(rx) => self.rt.search.picker = Some(rx),
            Err(e) => self.report(format!("Cannot show the file picker: {e}")),
        }
    }

    /// Shows an error once, in the banner.
    fn report(&mut self, message: String) {
        if !self.rt.errors.contains(&message) {
            self.rt.errors.push(message);
        }
    }

    /// Opens (creating if needed) the library at `dir` and loads its catalogue. On failure the
    /// previous library, if any, stays closed and the banner says why.
    fn open_library(&mut self, dir: PathBuf) {
        self.rt.thumbs.clear();
        self.rt.selected = None;
        self.rt.detail = None;
        self.rt.catalog = CatalogView::default();
        self.rt.personalize = personalize_tab::PersonalizeView::default();
        self.rt.library = None;
        self.rt.library_dir = dir.clone();
        match Library::open(&dir) {
            Ok(lib) => {
                self.rt.library = Some(lib);
                self.reload_systems();
                self.reload_catalog();
                self.rt.evaluate = evaluate_tab::EvaluateView::default();
                self.rt.analyze = evaluate_tab::AnalyzeView::default();
                self.resume_ohs();
            }
            Err(e) => self.report(format!("Cannot open the library: {e}")),
        }
    }

    /// Re-reads the library's systems; a saved choice that no longer exists falls back to
    /// the built-in system.
    fn reload_systems(&mut self) {
        self.rt.train.runs = None;
        let Some(lib) = &self.rt.library else {
            return;
        };
        match System::list(lib) {
            Ok(systems) => self.rt.systems = systems,
            Err(e) => {
                self.rt.systems = vec![System::imagenet_lite0_info()];
                self.report(format!("Cannot list the systems: {e}"));
            }
        }
        if !self.rt.systems.iter().any(|s| s.name == self.state.system) {
            self.state.system = system::IMAGENET_LITE0.to_owned();
        }
    }

    /// Re-reads the counts, the labels and the filtered items.
    fn reload_catalog(&mut self) {
        let Some(lib) = &self.rt.library else {
            return;
        };
        let loaded = lib
            .store
            .counts()
            .and_then(|counts| Ok((counts, lib.store.label_counts()?)));
        match loaded {
            Ok((counts, label_counts)) => {
                self.rt.catalog.total_items = counts.items;
                self.rt.catalog.label_groups = group_labels(label_counts);
            }
            Err(e) => self.report(format!("Cannot read the catalogue: {e}")),
        }
        self.query_items();
    }

    /// Re-runs the item query for the current filter (once per change, never per frame).
    fn query_items(&mut self) {
        let Some(lib) = &self.rt.library else {
            return;
        };
        match lib.store.items(&self.state.filter.to_item_filter()) {
            Ok(items) => self.rt.catalog.items = items,
            Err(e) => {
                self.rt.catalog.items.clear();
                self.report(format!("Cannot read the catalogue: {e}"));
            }
        }
    }

    fn select(&mut self, id: Option<ItemId>) {
        self.rt.selected = id;
        self.rt.detail = None;
        let Some(id) = id else {
            return;
        };
        if let Some(item) = self.rt.catalog.items.iter().find(|it| it.id == id) {
            self.rt.detail = Some(item.clone());
            return;
        }
        let Some(lib) = &self.rt.library else {
            return;
        };
        match lib.store.item(id) {
            Ok(item) => self.rt.detail = item,
            Err(e) => self.report(format!("Cannot read item {id}: {e}")),
        }
    }

    fn move_selection(&mut self, delta: isize) {
        let items = &self.rt.catalog.items;
        if items.is_empty() {
            return;
        }
        let current = self
            .rt
            .selected
            .and_then(|id| items.iter().position(|it| it.id == id));
        let next = match current {
            Some(i) => i.saturating_add_signed(delta).min(items.len() - 1),
            None => 0,
        };
        let id = items[next].id;
        self.rt.grid.scroll_to_index = Some(next);
        self.select(Some(id));
    }

    /// Shows the folder picker on its own thread, so the window keeps painting.
    fn pick_library_folder(&mut self) {
        if self.rt.picker.is_some() {
            return;
        }
        let start_in = self.rt.library_dir.clone();
        let spawned = off_ui_thread(&self.rt.ctx, "folder picker", move || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Open a Vitrine library folder")
                .set_directory(&start_in)
                .pick_folder();
            block_on(dialog).map(|handle| handle.path().to_path_buf())
        });
        match spawned {
            Ok(rx) => self.rt.picker = Some(rx),
            Err(e) => self.report(format!("Cannot show the folder picker: {e}")),
        }
    }

    fn poll_picker(&mut self) {
        let Some(rx) = &self.rt.picker else {
            return;
        };
        match rx.try_recv() {
            Ok(picked) => {
                self.rt.picker = None;
                if let Some(dir) = picked {
                    self.rt.commands.push(Command::OpenLibrary(dir));
                }
            }
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Disconnected) => self.rt.picker = None,
        }
    }

    /// Keyboard shortcuts become commands: Ctrl+1…6 switch tabs; in the Catalog tab with an
    /// item open, Escape closes it and the arrow keys move the selection; in scorer mode the
    /// digits, letters and arrows of [`evaluate_tab::read_scoring_keys`].
    ///
    /// Runs at the end of the frame, after every widget: egui moves the keyboard focus to a
    /// text field when the field is *clicked*, which happens while the field is drawn. Keys
    /// read before the widgets (in `logic`) were judged by the focus of the previous frame,
    /// so a click on a field and a digit that arrived in the same frame (a busy window
    /// batches them) made the digit a shortcut: it marked a result tile and saved a wrong
    /// answer while the field, now focused, stayed empty. Plain keys are shortcuts only when
    /// no text field had the keyboard as the frame began ([`Runtime::typing_at_start`]) and
    /// none took it during the frame.
    fn read_shortcuts(&mut self, ctx: &egui::Context) {
        // A dialog over the window takes the keys too (Escape closes it).
        let dialog_open = self.rt.dialog.is_some() || self.rt.jobs.confirm_cancel;
        let plain_keys_free = !self.rt.typing_at_start && !ctx.text_edit_focused() && !dialog_open;
        if self.state.tab == Tab::Evaluate && plain_keys_free {
            evaluate_tab::read_scoring_keys(ctx, &mut self.rt);
        }
        let commands = &mut self.rt.commands;
        ctx.input_mut(|input| {
            use egui::{Key, KeyboardShortcut, Modifiers};
            // The shortcut sheet: F1 always, `?` where it is not text.
            let question = plain_keys_free && input.consume_key(Modifiers::NONE, Key::Questionmark);
            if input.consume_key(Modifiers::NONE, Key::F1) || question {
                commands.push(Command::ShowDialog(Some(menu::Dialog::Shortcuts)));
            }
            if dialog_open {
                return;
            }
            for tab in Tab::ALL {
                if input.consume_shortcut(&tab.shortcut()) {
                    commands.push(Command::SelectTab(tab));
                }
            }
            if input.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::O)) {
                commands.push(Command::PickQueryFile);
            }
            if input.consume_shortcut(&KeyboardShortcut::new(Modifiers::ALT, Key::ArrowLeft)) {
                commands.push(Command::SearchHistory(-1));
            }
            if input.consume_shortcut(&KeyboardShortcut::new(Modifiers::ALT, Key::ArrowRight)) {
                commands.push(Command::SearchHistory(1));
            }
        });
        if !plain_keys_free {
            return;
        }
        if self.state.tab == Tab::Search && self.rt.selected.is_some() {
            ctx.input_mut(|input| {
                if input.consume_key(egui::Modifiers::NONE, egui::Key::Escape) {
                    commands.push(Command::SelectItem(None));
                }
            });
            return;
        }
        if self.state.tab != Tab::Catalog || self.rt.selected.is_none() {
            return;
        }
        let columns = self.rt.grid.columns.max(1) as isize;
        ctx.input_mut(|input| {
            use egui::{Key, Modifiers};
            if input.consume_key(Modifiers::NONE, Key::Escape) {
                commands.push(Command::SelectItem(None));
            }
            for (key, delta) in [
                (Key::ArrowLeft, -1),
                (Key::ArrowRight, 1),
                (Key::ArrowUp, -columns),
                (Key::ArrowDown, columns),
            ] {
                if input.consume_key(Modifiers::NONE, key) {
                    commands.push(Command::MoveSelection(delta));
                }
            }
        });
    }

    fn banner_ui(&mut self, ui: &mut egui::Ui) {
        if self.rt.errors.is_empty() {
            return;
        }
        egui::Panel::top("errors")
            .frame(
                egui::Frame::new()
                    .fill(theme::colours(ui).error_fill)
                    .stroke(egui::Stroke::new(1.0, theme::colours(ui).error_stroke))
                    .inner_margin(theme::PANEL_MARGIN),
            )
            .show(ui, |ui| {
                for (i, message) in self.rt.errors.iter().enumerate() {
                    ui.horizontal(|ui| {
                        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                            if ui
                                .button("Dismiss")
                                .on_hover_text("Hide this message")
                                .clicked()
                            {
                                self.rt.commands.push(Command::DismissError(i));
                            }
                            ui.with_layout(
                                egui::Layout::left_to_right(egui::Align::Center),
                                |ui| {
                                    widgets::warning_sign_ui(ui, theme::colours(ui).error_text);
                                    ui.add(
                                        egui::Label::new(
                                            egui::RichText::new(message)
                                                .color(theme::colours(ui).error_text),
                                        )
                                        .wrap(),
                                    );
                                },
                            );
                        });
                    });
                }
            });
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let now_secs = ctx.input(|i| i.time);
        // Training events first: they carry the run's phases (caching, epochs).
        let events = train_tab::poll(&mut self.rt.train, ctx, &mut self.rt.errors);
        if let JobState::Running(running) = &mut self.rt.job
            && matches!(running.kind, JobKind::Train { .. })
        {
            for event in &events {
                running.phases.update_from_train(event, now_secs);
            }
        }
        self.poll_job(now_secs);
        self.poll_picker();
        self.poll_import_picker();
        self.poll_export_picker();
        self.poll_search();
        cutouts::poll(&mut self.rt.cutouts, ctx, &mut self.rt.errors);
        self.poll_personalize();
        // A photo dropped anywhere on the window is a query.
        let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            self.rt.commands.push(Command::SearchFile(path));
        }
        // So is an image pasted from the clipboard (text pastes go to text fields).
        let pasted = ctx.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::PasteImage(img) => Some(img.clone()),
                _ => None,
            })
        });
        if let Some(img) = pasted {
            let rgb = search_tab::rgb_from_pasted(&img);
            self.search(search_tab::QuerySource::Pasted(Arc::new(rgb)));
        }
        self.rt.thumbs.receive(ctx);
        // Whether a text field has the keyboard as this frame begins (see `read_shortcuts`).
        self.rt.typing_at_start = ctx.text_edit_focused();
        for command in std::mem::take(&mut self.rt.commands) {
            self.apply(command);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut commands = Vec::new();
        top_bar::top_bar_ui(ui, &self.state, &self.rt, &mut commands);
        top_bar::status_line_ui(ui, &self.rt, &mut commands);
        menu::dialogs_ui(ui.ctx(), &self.rt, &mut commands);
        menu::drop_overlay_ui(ui.ctx());
        self.rt.commands.extend(commands);
        self.banner_ui(ui);
        let page_frame = egui::Frame::new().fill(theme::colours(ui).canvas);
        egui::CentralPanel::default()
            .frame(page_frame)
            .show(ui, |ui| match self.state.tab {
                Tab::Catalog => catalog_tab::catalog_tab_ui(ui, &mut self.state, &mut self.rt),
                Tab::Search => search_tab::search_tab_ui(ui, &self.state, &mut self.rt),
                Tab::Train => train_tab::train_tab_ui(ui, &mut self.rt),
                Tab::Evaluate => evaluate_tab::evaluate_tab_ui(ui, &mut self.rt),
                Tab::Analyze => analyze_tab::analyze_tab_ui(ui, &mut self.rt),
                Tab::Personalize => {
                    personalize_tab::personalize_tab_ui(ui, &self.state, &mut self.rt)
                }
            });
        self.rt.thumbs.flush();
        // After the widgets, when this frame's clicks have placed the keyboard focus.
        self.read_shortcuts(ui.ctx());
        if !self.rt.commands.is_empty() {
            ui.ctx().request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        // Ctrl+Plus / Ctrl+Minus zoom too (eframe's own keys): keep what the user set.
        self.state.zoom = self.rt.ctx.zoom_factor();
        eframe::set_value(storage, eframe::APP_KEY, &self.state);
    }
}

impl Drop for Runtime {
    /// A job still running when the window closes is cancelled and waited for, so it can
    /// clean up (the demo generator removes the images it wrote) instead of being cut off.
    fn drop(&mut self) {
        self.jobs.queue.clear();
        if let JobState::Running(running) = std::mem::replace(&mut self.job, JobState::Idle) {
            running.stop_and_wait();
        }
    }
}

/// Label counts grouped by label group, in the groups' reading order (category, subtype,
/// colour, texture, detail …), each group most frequent first; unused labels are left out.
fn group_labels(counts: Vec<LabelCount>) -> Vec<(LabelGroup, Vec<LabelCount>)> {
    let mut groups: Vec<(LabelGroup, Vec<LabelCount>)> =
        LabelGroup::ALL.iter().map(|g| (*g, Vec::new())).collect();
    for count in counts.into_iter().filter(|c| c.items > 0) {
        if let Some((_, list)) = groups.iter_mut().find(|(g, _)| *g == count.label.group) {
            list.push(count);
        }
    }
    for (_, list) in &mut groups {
        list.sort_by(|a, b| b.items.cmp(&a.items).then(a.label.name.cmp(&b.label.name)));
    }
    groups.retain(|(_, list)| !list.is_empty());
    groups
}

/// Runs `work` on a thread of its own, named `name`, and hands its result back through the
/// receiver, waking the window when it arrives: file dialogs and small one-off jobs that
/// must not hold up a frame. (Long work with progress and cancel goes through a `Job`.)
fn off_ui_thread<T: Send + 'static>(
    ctx: &egui::Context,
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Receiver<T>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(work());
            ctx.request_repaint();
        })?;
    Ok(rx)
}

/// Runs a future to completion on the current thread (the folder picker's thread): rfd's
/// async dialog works on every platform, including those whose blocking dialog must run on
/// the main thread.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(value) => return value,
            std::task::Poll::Pending => std::thread::park(),
        }
    }
}
