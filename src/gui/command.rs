//! Every UI action, typed, in one place: the window-wide [`Command`] and, in sections below,
//! each tab's own commands and the plain data they carry. Panels and tabs push commands while
//! drawing; `App::apply` (gui/app/commands.rs) carries them out once per frame, handing each
//! tab's commands to that tab's `handle`.
//!
//! Why one file rather than one enum beside each tab: the command types sit *below* the tabs
//! and the app, so a tab can ask for another tab's action ("Search similar" from the
//! catalogue) or a window-wide one without importing the app or the other tab, and the
//! import graph of `gui/` stays a tree (see ARCHITECTURE.md §1).

use crate::catalog::{Item, ItemId, Label};
use crate::gui::theme;
use crate::index::scan::ColourWeight;
use crate::ohs::StudySpec;
use crate::sources::import::FolderSplit;
use crate::store::UserId;
use eframe::egui;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
// ── Window-wide ───────────────────────────────────────────────────────────────────────────

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
    /// Embed the catalogue items the current system's index lacks (a background job), its
    /// rows at this precision (`None`: as the index has them; another re-writes them all).
    IndexCatalogue(Option<crate::index::Precision>),
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

/// A job action from the status line or its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobCommand {
    /// Cancel pressed: stops at once, or asks first (see [`JobKind::asks_before_cancel`]).
    Cancel,
    /// "Stop" in the confirmation.
    ConfirmCancel,
    /// "Keep running" in the confirmation (or Escape).
    KeepRunning,
    /// Take the queued job at this place out of the queue.
    RemoveQueued(usize),
}

/// A catalogue format File > Import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportKind {
    /// A folder of photos: one folder per category, a flat folder, or train/validation/test
    /// split folders; with a split, only that split's folder (`vitrine import folder
    /// --split`).
    PhotoFolder(Option<FolderSplit>),
    /// A CSV file (`image,labels,title,category,…`); images relative to its folder.
    Csv,
    /// Kaggle's Fashion Product Images: a folder with styles.csv and images/.
    FashionProductImages,
    /// DeepFashion In-shop: a folder with list_eval_partition.txt, list_attr_items.txt, img/.
    DeepFashionInshop,
}

impl ImportKind {
    /// The formats after the photo folder (which has its own submenu, one entry per split).
    pub const FORMATS: [ImportKind; 3] = [
        ImportKind::Csv,
        ImportKind::FashionProductImages,
        ImportKind::DeepFashionInshop,
    ];

    /// The menu entry (a photo folder's, in its submenu).
    pub(crate) fn menu_text(self) -> &'static str {
        match self {
            ImportKind::PhotoFolder(None) => "All photos…",
            ImportKind::PhotoFolder(Some(FolderSplit::Train)) => "Only the train split…",
            ImportKind::PhotoFolder(Some(FolderSplit::Validation)) => "Only the validation split…",
            ImportKind::PhotoFolder(Some(FolderSplit::Test)) => "Only the test split…",
            ImportKind::Csv => "CSV file…",
            ImportKind::FashionProductImages => "Fashion Product Images folder…",
            ImportKind::DeepFashionInshop => "DeepFashion In-shop folder…",
        }
    }

    /// The picker's title.
    pub fn picker_title(self) -> String {
        match self {
            ImportKind::PhotoFolder(None) => "Import a folder of photos".to_owned(),
            ImportKind::PhotoFolder(Some(split)) => format!(
                "Import the {} split of a photo folder (its {0}/ folder)",
                split.as_str()
            ),
            other => format!("Import {}", other.menu_text()),
        }
    }

    /// Whether its picker asks for a folder (else a file).
    pub fn picks_folder(self) -> bool {
        !matches!(self, ImportKind::Csv)
    }
}

/// A dialog over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialog {
    /// Help > Keyboard shortcuts (F1 or `?`).
    Shortcuts,
    /// Help > About Vitrine.
    About,
}

// ── Catalog tab ───────────────────────────────────────────────────────────────────────────

/// A Catalog tab action (the Search tab's detail panel and the keyboard push them too).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CatalogCommand {
    SetSearchText(String),
    ToggleLabel(Label),
    ClearFilters,
    /// Open (or with `None`, close) the detail view of an item.
    Select(Option<ItemId>),
    /// Move the selection by this many items in the filtered list (arrow keys).
    MoveSelection(isize),
}

// ── Search tab ────────────────────────────────────────────────────────────────────────────

/// A Search tab action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SearchCommand {
    /// Search from this source, as a new entry in the history: a photo from disk (dropped on
    /// the window, or chosen with the file picker), an image pasted from the clipboard, or a
    /// catalogue item ("Search similar", a double-click on a result).
    Query(QuerySource),
    /// Show the query this many steps back (-1) or forward (1) in the history.
    History(isize),
    /// Show the file picker for a query photo (on its own thread).
    PickFile,
    /// Only show results of this category (`None`: all), and run the query again.
    SetCategory(Option<String>),
    /// Compare mode: also run each query with this system (`None`: off), and run it again.
    SetCompareSystem(Option<String>),
    /// Turn the "why similar" overlay on or off (the Explain button); on, it explains the
    /// top result until another is hovered.
    SetExplain(bool),
    /// Explain this result of the query on show, ranked by `system` (hovered while Explain
    /// is on or H is held).
    Explain { system: String, item: ItemId },
    /// The colour ↔ shape dial moved to this weight; once it settles, the query runs again.
    SetColourWeight(ColourWeight, DialMove),
}

/// Where the colour ↔ shape dial is in a move: a drag only shows the value, and the query
/// runs again once the dial settles (released, or set by keyboard or screen reader).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialMove {
    Dragging,
    Settled,
}

/// What a query searched from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuerySource {
    /// A photo from disk (dropped, opened or given on the command line).
    File(PathBuf),
    /// A catalogue item ("Search similar", or a double-click on a result).
    Item { id: ItemId, title: String },
    /// An image pasted from the clipboard (Ctrl+V: a screenshot, an image copied in a browser).
    Pasted(Arc<image::RgbImage>),
}

impl QuerySource {
    /// "Search similar" to a catalogue item (its title names the query in the history).
    pub fn item(item: &Item) -> QuerySource {
        QuerySource::Item {
            id: item.id,
            title: item.title.clone(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            QuerySource::File(path) => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string()),
            QuerySource::Item { title, .. } => title.clone(),
            QuerySource::Pasted(img) => {
                format!("pasted image ({} × {} px)", img.width(), img.height())
            }
        }
    }
}

// ── Train tab ─────────────────────────────────────────────────────────────────────────────

/// A Train tab action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TrainCommand {
    /// Train a new system with the form (or resume the run of its name).
    Start { resume: bool },
    /// Draw the augmentation preview.
    PreviewAugmentation,
    /// Show the folder picker for background scenes.
    PickBackgroundFolder,
    /// Check the background cut-out on a sample of the catalogue.
    CheckCutouts,
    /// Plot the epochs of a past run (from its checkpoint state).
    PlotRun(String),
    /// Train and measure the paper's five systems (the Table I section; a job).
    RunTable1,
}

// ── Personalize tab ───────────────────────────────────────────────────────────────────────

/// A Personalize tab action, applied by [`PersonalizeTab::handle`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PersonalizeCommand {
    /// Load the current system's users, index and personaliser (a job).
    Load,
    /// Show this user (database id) and start from their purchases.
    PickUser(UserId),
    SetUserSearch(String),
    /// Add an item to the virtual cart (4 stars), or re-rate it if there.
    Add(ItemId),
    /// Add the item whose id is typed in the "Item id" field.
    AddTyped,
    SetTypedItem(String),
    Rate(ItemId, u8),
    Remove(ItemId),
    /// Back to the user's own purchases.
    Reset,
    /// Recall@K of every method (a job; trains the personaliser when needed).
    Evaluate,
    /// Fig. 5: Recall@K of the cart mean per feature extractor, with and without K-Splits,
    /// beside the baselines (a job; trains nothing).
    CompareExtractors,
}

// ── Evaluate tab ──────────────────────────────────────────────────────────────────────────

/// A scorer's or a study author's action; [`EvaluateTab::handle`] carries it out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EvaluateCommand {
    /// Re-read the list of studies.
    ListStudies,
    SelectStudy(String),
    /// Start scoring the selected study as this scorer (resuming where they stopped).
    StartScoring(String),
    StopScoring,
    /// The current criterion's hit count, typed; with `advance`, then the next criterion
    /// (only if the count was accepted).
    SetHits {
        hits: u32,
        advance: bool,
    },
    /// Mark or unmark the result of this rank (1-based) as a hit for the current criterion.
    ToggleMark(u32),
    /// Accept the machine's pre-filled count for the current criterion as the answer (Enter,
    /// or the Confirm button), then the next criterion.
    ConfirmPrefill,
    MoveCriterion(isize),
    /// Back (-1) or next (+1) sheet in the scorer's order.
    MoveSheet(isize),
    /// Leave this sheet for later and go to the next one not yet done.
    Skip,
    /// Take back the scorer's last answer (Ctrl+Z): the answer it replaced comes back in
    /// SQLite, or it is deleted, and the sheet and criterion it was given on are shown.
    Undo,
    /// Turn "why similar" on the sheet on or off (the Explain button; only where the study
    /// allows it). On, it explains result 1 unless one is explained already.
    SetExplain(bool),
    /// Explain the result of this rank (1-based) against the sheet's query (hovered while
    /// Explain is on or H is held). Never from a click: a click marks a hit.
    Explain(u32),
    /// Show (or hide) the creation form.
    ShowCreateForm(bool),
    /// Create the study the form describes (a background job).
    CreateStudy(StudySpec),
}

// ── Analyze tab ───────────────────────────────────────────────────────────────────────────

/// An analyst's action (Analyze tab, and File > Export); [`AnalyzeTab::handle`] carries it
/// out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnalyzeCommand {
    /// Compute the report of this study.
    ShowReport(String),
    /// The slider weight of criterion `i`.
    SetWeight(usize, f64),
    ResetWeights,
    /// Show the save dialog for the summary (false) or raw-score (true) CSV, starting in
    /// `DIR/exports/`.
    PickExportFile {
        raw: bool,
    },
    /// Write the summary (false) or raw-score (true) CSV to `path` (on a thread of its own).
    ExportCsvTo {
        raw: bool,
        path: PathBuf,
    },
    /// Show the file picker for another library's database or a raw-score CSV.
    PickMergeFile,
    /// Merge the answers in this file into the shown study (on a thread of its own).
    MergeFrom(PathBuf),
}
