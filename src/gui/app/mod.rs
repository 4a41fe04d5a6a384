//! The [`App`]: the persisted UI state, the shared [`Runtime`], each tab's state, and eframe's
//! two steps. `logic` updates state and never paints (finished background work, dialog
//! answers, thumbnails, then every queued [`Command`]); `ui` paints the top bar, the banner
//! and the current tab, then reads the keyboard shortcuts.
//!
//! The `App` is split by role: `commands` (the [`Command`] enum and its dispatch), `runtime`
//! (the state tabs share), `jobs` (what a finished background job calls for), `library`
//! (opening a library, its systems, the device, imports) and `shortcuts` (the keyboard). No
//! `impl App` lives outside this folder.

mod commands;
mod jobs;
mod library;
mod shortcuts;

use crate::gui::command::{Command, QuerySource, SearchCommand, Tab};
use crate::gui::job_slot::{JobKind, JobState};
use crate::gui::runtime::Runtime;
use crate::gui::tabs::analyze::AnalyzeTab;
use crate::gui::tabs::catalog::CatalogTab;
use crate::gui::tabs::evaluate::EvaluateTab;
use crate::gui::tabs::personalize::PersonalizeTab;
use crate::gui::tabs::search::{self, SearchTab};
use crate::gui::tabs::train::TrainTab;
use crate::gui::ui_state::UiState;
use crate::gui::{menu, theme, top_bar, widgets};
use crate::sources::demo::DemoOptions;
use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;

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

/// Each tab's runtime state (rebuilt at every start, never saved).
#[derive(Default)]
pub(crate) struct Tabs {
    pub catalog: CatalogTab,
    pub search: SearchTab,
    pub train: TrainTab,
    pub personalize: PersonalizeTab,
    pub evaluate: EvaluateTab,
    pub analyze: AnalyzeTab,
}

/// The Vitrine desktop app.
pub struct App {
    pub(in crate::gui) state: UiState,
    pub(in crate::gui) rt: Runtime,
    pub(in crate::gui) tabs: Tabs,
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
            rt: Runtime::new(&cc.egui_ctx, library_dir.clone()),
            tabs: Tabs::default(),
        };
        app.open_library(library_dir);
        if let Startup::CreateDemoIfEmpty(opts) = startup
            && app.rt.library.is_some()
            && app.tabs.catalog.total_items == 0
        {
            app.start_demo(opts);
        }
        app
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

    /// Photos dropped on the window and images pasted from the clipboard: queries, through
    /// the same command as any other.
    fn read_dropped_and_pasted(&mut self, ctx: &egui::Context) {
        // A photo dropped anywhere on the window is a query.
        let dropped = ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()));
        if let Some(path) = dropped {
            let query = SearchCommand::Query(QuerySource::File(path));
            self.rt.commands.push(query.into());
        }
        // So is an image pasted from the clipboard (text pastes go to text fields).
        let pasted = ctx.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::PasteImage(img) => Some(img.clone()),
                _ => None,
            })
        });
        if let Some(img) = pasted {
            let rgb = search::rgb_from_pasted(&img);
            let query = SearchCommand::Query(QuerySource::Pasted(Arc::new(rgb)));
            self.rt.commands.push(query.into());
        }
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let now_secs = ctx.input(|i| i.time);
        // Training events first: they carry the run's phases (caching, epochs).
        let events = self.tabs.train.poll(&mut self.rt);
        if let JobState::Running(running) = &mut self.rt.jobs.current
            && matches!(running.kind, JobKind::Train { .. })
        {
            for event in &events {
                running.phases.update_from_train(event, now_secs);
            }
        }
        self.poll_job(now_secs);
        self.poll_pickers();
        self.tabs.analyze.poll(&mut self.state.ohs, &mut self.rt);
        self.tabs.search.poll(&self.state.system, &mut self.rt);
        self.tabs.evaluate.poll(&mut self.rt);
        self.tabs.personalize.poll(&mut self.rt);
        self.read_dropped_and_pasted(ctx);
        self.rt.thumbs.receive(ctx);
        // Whether a text field has the keyboard as this frame begins (see `shortcuts`).
        self.rt.typing_at_start = ctx.text_edit_focused();
        for command in std::mem::take(&mut self.rt.commands) {
            self.apply(command);
        }
        self.jobs_started();
        self.rt.refresh_index_precision(&self.state.system);
        if self.state.tab == Tab::Train {
            self.tabs.train.refresh(&mut self.rt);
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let mut commands = Vec::new();
        let has_report = self.tabs.analyze.report.is_some();
        top_bar::top_bar_ui(ui, &self.state, &self.rt, has_report, &mut commands);
        top_bar::status_line_ui(ui, &self.rt, &mut commands);
        menu::dialogs_ui(ui.ctx(), &self.rt, &mut commands);
        menu::drop_overlay_ui(ui.ctx());
        self.rt.commands.extend(commands);
        self.banner_ui(ui);
        let page_frame = egui::Frame::new().fill(theme::colours(ui).canvas);
        let (state, tabs, rt) = (&mut self.state, &mut self.tabs, &mut self.rt);
        egui::CentralPanel::default()
            .frame(page_frame)
            .show(ui, |ui| match state.tab {
                Tab::Catalog => tabs
                    .catalog
                    .ui(ui, &state.filter, &mut state.thumb_size, rt),
                Tab::Search => tabs.search.ui(ui, &state.system, &tabs.catalog, rt),
                Tab::Train => tabs.train.ui(ui, rt),
                Tab::Evaluate => tabs.evaluate.ui(ui, rt),
                Tab::Analyze => tabs.analyze.ui(ui, &tabs.evaluate.studies, rt),
                Tab::Personalize => {
                    let selected = tabs.catalog.selected;
                    tabs.personalize.ui(ui, &state.system, selected, rt)
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
