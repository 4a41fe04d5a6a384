//! The Search tab: drop a photo on the window (or open one, paste one, or pick "Search
//! similar" on a catalogue item) and see the ten most similar catalogue items as a 2×5 grid,
//! with the query's predicted labels and the time the search took.
//!
//! Every query, wherever it comes from, is one command ([`SearchCommand::Query`]) handled in
//! one place ([`SearchTab::handle`]). Queries run on a worker thread (`SearchTab::running`, a
//! [`Pending`]); the loaded [`Searcher`] (model + index) moves into the query job and comes
//! back with the result, so it is loaded once per system and never shared between threads. A
//! failed query (a file that is not an image, a missing index) is shown once in the banner and
//! the previous results stay on screen. A query whose system is being indexed (or whose index
//! is missing) waits for that index. Back/forward walk the query history (Alt+Left/Right).
//! The colour ↔ shape dial (`dial.rs`) runs the query on show again with another weight.

mod dial;
mod explain;
mod query;
mod ui;

use crate::gui::command::QuerySource;
use crate::gui::command::{DialMove, SearchCommand};
#[cfg(test)]
pub(crate) use dial::DIAL_LABEL;
pub(crate) use query::{WaitingQuery, rgb_from_pasted};

use crate::catalog::ItemId;
use crate::gui::explain_overlay::ExplainOverlay;
use crate::gui::job_slot::JobKind;
use crate::gui::pending::{Pending, block_on};
use crate::gui::runtime::Runtime;
use crate::index::scan::ColourWeight;
use crate::search::{QueryResult, SearchFilter, Searcher};
use eframe::egui;
use query::{AskedQuery, QueryAnswer, QueryOutput, QueryWork};
use std::path::PathBuf;

/// A finished query, on show.
pub(crate) struct ShownQuery {
    pub source: QuerySource,
    pub system: String,
    pub result: QueryResult,
    /// The same query with the comparison system, in compare mode.
    pub compared: Option<(String, QueryResult)>,
    /// The picture of a pasted query (files and items load through the thumbnail cache).
    pub pasted_texture: Option<egui::TextureHandle>,
}

/// The Search tab's state.
#[derive(Default)]
pub(crate) struct SearchTab {
    /// Every query asked for, oldest first; `position` is the one on show.
    pub history: Vec<QuerySource>,
    pub position: usize,
    pub shown: Option<ShownQuery>,
    /// The query on its worker thread ...
    pub running: Pending<QueryOutput>,
    /// ... and what it asked for.
    asked: Option<AskedQuery>,
    /// The loaded models and indexes, one per system used lately (empty while a query has
    /// them, or before the first query).
    pub searchers: Vec<Searcher>,
    /// Compare mode: the second system each query also runs with (`None`: off).
    pub compare_with: Option<String>,
    /// Only show items of this category (`None`: all).
    pub category: Option<String>,
    /// The colour ↔ shape dial as set (it applies to systems with a colour branch).
    pub colour_weight: ColourWeight,
    /// The file picker's answer arrives here.
    picker: Pending<Option<PathBuf>>,
    /// A query asked for while another ran (and whether to record it in the history): it
    /// starts when that one ends (latest wins).
    next: Option<(QuerySource, bool)>,
    /// A query waiting for the index of its system (latest wins).
    pub waiting: Option<WaitingQuery>,
    /// The Explain button is on: hovered results show why they are similar.
    pub explain_on: bool,
    /// The "why similar" pictures of the result explained last (see `explain.rs`).
    pub explain: ExplainOverlay,
}

impl SearchTab {
    /// Carries out one Search command with `system` (the app has already shown the tab and
    /// closed the item details for a new query).
    pub fn handle(&mut self, command: SearchCommand, system: &str, rt: &mut Runtime) {
        match command {
            // A new entry in the history, shown in the Search tab. (A query that fails, such
            // as a dropped text file, does not enter the history.)
            SearchCommand::Query(source) => self.run(source, true, false, system, rt),
            SearchCommand::History(delta) => {
                let next = self.position.saturating_add_signed(delta);
                if next != self.position && next < self.history.len() {
                    self.position = next;
                    let source = self.history[next].clone();
                    self.run(source, false, false, system, rt);
                }
            }
            SearchCommand::PickFile => self.pick_file(rt),
            SearchCommand::SetCategory(category) => {
                self.category = category;
                self.run_again(system, rt);
            }
            SearchCommand::SetCompareSystem(other) => {
                self.compare_with = other;
                self.run_again(system, rt);
            }
            SearchCommand::SetExplain(on) => {
                self.explain_on = on;
                if on && self.explain.wanted().is_none() {
                    self.explain_top(rt);
                }
            }
            SearchCommand::Explain { system, item } => self.explain_result(&system, item, rt),
            SearchCommand::SetColourWeight(weight, moved) => {
                self.colour_weight = weight;
                if moved == DialMove::Settled {
                    self.run_again(system, rt);
                }
            }
        }
    }

    /// Whether a query is on its worker thread.
    pub fn is_searching(&self) -> bool {
        self.running.is_running()
    }

    /// Whether Back would show an earlier query.
    pub fn can_go_back(&self) -> bool {
        self.position > 0
    }

    /// Whether Forward would show a later query.
    pub fn can_go_forward(&self) -> bool {
        self.position + 1 < self.history.len()
    }

    /// The systems a query runs with: the chosen one, and the comparison system if any.
    pub fn systems_for(&self, system: &str) -> Vec<String> {
        std::iter::once(system.to_owned())
            .chain(self.compare_with.clone().filter(|c| c != system))
            .collect()
    }

    /// The filter every query of this tab uses with `system` (the dial counts only for a
    /// system with a colour branch: [`dial::weight_for`]).
    pub fn filter(&self, exclude: Option<ItemId>, system: &str, rt: &Runtime) -> SearchFilter {
        SearchFilter {
            categories: self.category.iter().cloned().collect(),
            exclude: exclude.into_iter().collect(),
            in_stock_only: false,
            colour_weight: dial::weight_for(self.colour_weight, system, rt),
        }
    }

    /// The query on show runs again (with another filter or comparison system).
    fn run_again(&mut self, system: &str, rt: &mut Runtime) {
        if let Some(source) = self.history.get(self.position).cloned() {
            self.run(source, false, false, system, rt);
        }
    }

    /// Runs a query on a worker thread, or queues it behind the one running; `record` adds it
    /// to the history once it succeeds (history navigation and filter changes do not). A
    /// query whose system is being indexed (or is queued for it) waits for that index;
    /// `after_index`: it waited already.
    fn run(
        &mut self,
        source: QuerySource,
        record: bool,
        after_index: bool,
        system: &str,
        rt: &mut Runtime,
    ) {
        if rt.library.is_none() {
            rt.report("Open a library before searching.".to_owned());
            return;
        }
        let systems = self.systems_for(system);
        let indexing: Vec<String> = systems
            .iter()
            .filter(|s| rt.job_pending(|k| matches!(k, JobKind::Index { system } if system == *s)))
            .cloned()
            .collect();
        if !indexing.is_empty() {
            self.waiting = Some(WaitingQuery {
                source,
                record,
                systems: indexing,
            });
            return;
        }
        if self.running.is_running() {
            self.next = Some((source, record));
            return;
        }
        let exclude = match &source {
            QuerySource::Item { id, .. } => Some(*id),
            QuerySource::File(_) | QuerySource::Pasted(_) => None,
        };
        let work = QueryWork {
            library_dir: rt.library_dir.clone(),
            systems,
            device: rt.device.clone(),
            filter: self.filter(exclude, system, rt),
            cached: std::mem::take(&mut self.searchers),
        };
        self.running = query::start(&rt.ctx, work, source.clone());
        self.asked = Some(AskedQuery {
            source,
            record,
            system: system.to_owned(),
            after_index,
        });
    }

    /// Collects the file picker's answer (a query) and a finished query: its results go on
    /// show; an error goes to the banner and the previous results stay. A query whose index
    /// is missing or out of date queues the indexing and waits for it.
    pub fn poll(&mut self, system: &str, rt: &mut Runtime) {
        match self.picker.take_finished() {
            Some(Ok(Some(path))) => {
                let query = SearchCommand::Query(QuerySource::File(path));
                rt.commands.push(query.into());
            }
            Some(Err(e)) => rt.report(format!("Cannot show the file picker: {e}")),
            Some(Ok(None)) | None => {}
        }
        if let Some(error) = self.explain.poll(&rt.ctx) {
            rt.report(error);
        }
        let Some(outcome) = self.running.take_finished() else {
            return;
        };
        let Some(asked) = self.asked.take() else {
            return;
        };
        let answer = outcome.and_then(|output| {
            self.searchers = output.searchers;
            output.result
        });
        match answer {
            // The system changed while it ran: the query runs again with the new one
            // (`system_changed` queued it), and this answer is not for the screen.
            Ok(_) if asked.system != system => {}
            Ok(QueryAnswer::Found(result, compared)) => {
                self.show(asked.source, asked.record, system, (result, compared), rt);
            }
            Ok(QueryAnswer::NeedsIndex(systems)) if asked.after_index => {
                rt.report(format!(
                    "Cannot search with {}: its index still does not cover the catalogue after \
                     indexing (the status line and the banner say which images could not be \
                     read).",
                    systems.join(" and ")
                ));
            }
            Ok(QueryAnswer::NeedsIndex(systems)) => {
                for system in &systems {
                    rt.index_system(system.clone());
                }
                self.waiting = Some(WaitingQuery {
                    source: asked.source,
                    record: asked.record,
                    systems,
                });
            }
            Err(e) => rt.report(format!("Search failed: {e}")),
        }
        if let Some((next, record)) = self.next.take() {
            self.run(next, record, false, system, rt);
        }
    }

    /// Puts a query's results on show (and in the history when `record`).
    fn show(
        &mut self,
        source: QuerySource,
        record: bool,
        system: &str,
        (result, compared): (QueryResult, Option<QueryResult>),
        rt: &Runtime,
    ) {
        if record {
            if !self.history.is_empty() {
                self.history.truncate(self.position + 1);
            }
            self.history.push(source.clone());
            self.position = self.history.len() - 1;
        }
        let pasted_texture = match &source {
            QuerySource::Pasted(img) => Some(query::pasted_texture(&rt.ctx, img)),
            _ => None,
        };
        let compared = compared.and_then(|c| self.compare_with.clone().map(|name| (name, c)));
        self.shown = Some(ShownQuery {
            source,
            system: system.to_owned(),
            result,
            compared,
            pasted_texture,
        });
        self.explain.clear();
        if self.explain_on {
            self.explain_top(rt);
        }
    }

    /// Indexing with `indexed_system` ended (`indexed`: it made an index). A query waiting for
    /// it runs now with `system`; if indexing was cancelled or failed, the query is dropped
    /// with a word why.
    pub fn index_ended(
        &mut self,
        indexed_system: &str,
        indexed: bool,
        system: &str,
        rt: &mut Runtime,
    ) {
        let Some(waiting) = &mut self.waiting else {
            return;
        };
        if !waiting.systems.iter().any(|s| s == indexed_system) {
            return;
        }
        if !indexed {
            self.waiting = None;
            rt.report(format!(
                "The search waited for the index of {indexed_system}, and indexing stopped \
                 before it was done. Search again to index and search."
            ));
            return;
        }
        waiting.systems.retain(|s| s != indexed_system);
        if waiting.systems.is_empty()
            && let Some(w) = self.waiting.take()
        {
            self.run(w.source, w.record, true, system, rt);
        }
    }

    /// Searches run with `system` from now on. The results on show belong to the previous
    /// system: they go, and the query on show runs again with this one.
    pub fn system_changed(&mut self, system: &str, rt: &mut Runtime) {
        if self.compare_with.as_deref() == Some(system) {
            self.compare_with = None;
        }
        self.shown = None;
        self.next = None;
        self.waiting = None;
        self.explain.clear();
        if let Some(source) = self.history.get(self.position).cloned() {
            self.run(source, false, false, system, rt);
        }
    }

    /// Shows the file picker for a query photo on its own thread.
    fn pick_file(&mut self, rt: &mut Runtime) {
        if self.picker.is_running() {
            return;
        }
        self.picker = rt.spawn("image picker", || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Search with a photo")
                .add_filter("Images", &crate::vision::IMAGE_EXTENSIONS)
                .pick_file();
            Ok(block_on(dialog).map(|f| f.path().to_path_buf()))
        });
    }
}
