//! The Search tab: drop a photo on the window (or open one, or pick "Search similar" on a
//! catalogue item) and see the ten most similar catalogue items as a 2×5 grid, with the
//! query's predicted labels and the time the search took.
//!
//! Queries run on a worker thread (`SearchView::running`); the loaded [`Searcher`] (model +
//! index) moves into the query job and comes back with the result, so it is loaded once per
//! system and never shared between threads. A failed query (a file that is not an image, a
//! missing index) is shown once in the banner and the previous results stay on screen.
//! Back/forward walk the query history (Alt+Left/Right).

use super::thumbs::{ImageKey, ImageRequest, Thumb};
use super::{Command, Runtime, UiState, theme, widgets};
use crate::catalog::ItemId;
use crate::jobs::Job;
use crate::search::{Opened, QueryResult, RankedItem, SearchFilter, Searcher};
use eframe::egui;
use egui::{Align, Layout, RichText, ScrollArea, Sense, Ui, Vec2};
use std::path::{Path, PathBuf};

/// Results per query (the paper's top-10).
pub(crate) const RESULTS: usize = 10;
/// Tiles per row of the result grid (2 rows of 5).
const COLUMNS: usize = 5;
/// Tiles per row of each system's grid in compare mode (5 rows of 2, side by side).
const COMPARE_COLUMNS: usize = 2;
/// Catalogue labels voted by the results, shown for a system that names ImageNet classes.
const NEIGHBOUR_LABELS: usize = 6;

/// What a query searched from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QuerySource {
    /// A photo from disk (dropped, opened or given on the command line).
    File(PathBuf),
    /// A catalogue item ("Search similar", or a double-click on a result).
    Item { id: ItemId, title: String },
    /// An image pasted from the clipboard (Ctrl+V: a screenshot, an image copied in a browser).
    Pasted(std::sync::Arc<image::RgbImage>),
}

impl QuerySource {
    fn describe(&self) -> String {
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

/// What the query job hands back: the searchers (to keep for the next query) and the answer.
pub(crate) struct QueryOutput {
    pub searchers: Vec<Searcher>,
    pub result: crate::Result<QueryAnswer>,
}

/// The answer of a query job.
pub(crate) enum QueryAnswer {
    /// The results (the second with the comparison system, in compare mode).
    Found(QueryResult, Option<QueryResult>),
    /// These systems have no index that can answer yet (missing, out of date, or without
    /// the query item): the app indexes them, and the query waits.
    NeedsIndex(Vec<String>),
}

/// A query waiting for indexing to end.
#[derive(Debug, Clone)]
pub(crate) struct WaitingQuery {
    pub source: QuerySource,
    pub record: bool,
    /// The systems whose index it waits for.
    pub systems: Vec<String>,
}

/// A query on its worker thread.
pub(crate) struct RunningQuery {
    pub source: QuerySource,
    /// Add it to the history when it succeeds (a new query, not a step through the history).
    pub record: bool,
    pub system: String,
    /// It runs after indexing that it waited for: if the index still cannot answer, say so
    /// instead of indexing again.
    pub after_index: bool,
    pub job: Job<QueryOutput>,
}

/// The Search tab's runtime state.
#[derive(Default)]
pub(crate) struct SearchView {
    /// Every query asked for, oldest first; `position` is the one on show.
    pub history: Vec<QuerySource>,
    pub position: usize,
    pub shown: Option<ShownQuery>,
    pub running: Option<RunningQuery>,
    /// The loaded models and indexes, one per system used lately (empty while a query has
    /// them, or before the first query).
    pub searchers: Vec<Searcher>,
    /// Compare mode: the second system each query also runs with (`None`: off).
    pub compare_with: Option<String>,
    /// Only show items of this category (`None`: all).
    pub category: Option<String>,
    /// The file picker's answer arrives here.
    pub picker: Option<std::sync::mpsc::Receiver<Option<PathBuf>>>,
    /// A query asked for while another ran (and whether to record it in the history): it
    /// starts when that one ends (latest wins).
    pub pending: Option<(QuerySource, bool)>,
    /// A query waiting for the index of its system (latest wins).
    pub waiting: Option<WaitingQuery>,
}

impl SearchView {
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

    /// The filter every query of this tab uses.
    pub fn filter(&self, exclude: Option<ItemId>) -> SearchFilter {
        SearchFilter {
            categories: self.category.iter().cloned().collect(),
            exclude: exclude.into_iter().collect(),
            in_stock_only: false,
        }
    }
}

/// Starts `source` as a query job with `system` (and the comparison system, if any), loading
/// in the job any system whose searcher is not already at hand.
pub(crate) fn start_query(
    view: &mut SearchView,
    library_dir: &Path,
    system: &str,
    (source, record, after_index): (QuerySource, bool, bool),
    notify: crate::jobs::Notify,
) {
    let cached = std::mem::take(&mut view.searchers);
    let exclude = match &source {
        QuerySource::Item { id, .. } => Some(*id),
        QuerySource::File(_) | QuerySource::Pasted(_) => None,
    };
    let filter = view.filter(exclude);
    let dir = library_dir.to_path_buf();
    let wanted = view.systems_for(system);
    let job_source = source.clone();
    let job = Job::spawn("search", Some(notify), move |_ctx| {
        let mut searchers = Vec::new();
        let mut cached = cached;
        let mut needs_index = Vec::new();
        for name in &wanted {
            match cached.iter().position(|s| s.system_name() == name) {
                Some(i) => searchers.push(cached.swap_remove(i)),
                None => {
                    let opened = crate::library::Library::open(&dir).and_then(|lib| {
                        let device = crate::model::system::device("cpu")?;
                        Searcher::open_or_needs_index(&lib, name, &device)
                    });
                    match opened {
                        Ok(Opened::Ready(s)) => searchers.push(*s),
                        Ok(Opened::NeedsIndex(_)) => needs_index.push(name.clone()),
                        Err(e) => {
                            return Ok(QueryOutput {
                                searchers,
                                result: Err(e),
                            });
                        }
                    }
                }
            }
        }
        // A catalogue item the index does not hold yet (imported since): index first.
        if let QuerySource::Item { id, .. } = &job_source {
            needs_index.extend(
                searchers
                    .iter()
                    .filter(|s| s.row_of(*id).is_none())
                    .map(|s| s.system_name().to_owned()),
            );
        }
        if !needs_index.is_empty() {
            return Ok(QueryOutput {
                searchers,
                result: Ok(QueryAnswer::NeedsIndex(needs_index)),
            });
        }
        let run = |searcher: &Searcher| match &job_source {
            QuerySource::File(path) => searcher.query_file(path, RESULTS, &filter),
            QuerySource::Item { id, .. } => searcher.query_item(*id, RESULTS, &filter),
            QuerySource::Pasted(img) => searcher.query_image(img, RESULTS, &filter),
        };
        let result = run(&searchers[0]).and_then(|main| {
            let compared = searchers.get(1).map(run).transpose()?;
            Ok(QueryAnswer::Found(main, compared))
        });
        Ok(QueryOutput { searchers, result })
    });
    view.running = Some(RunningQuery {
        source,
        record,
        system: system.to_owned(),
        after_index,
        job,
    });
}

/// Draws the Search tab.
pub(crate) fn search_tab_ui(ui: &mut Ui, state: &UiState, rt: &mut Runtime) {
    egui::Frame::new()
        .inner_margin(theme::PANEL_MARGIN)
        .show(ui, |ui| toolbar_ui(ui, state, rt));
    ui.add_space(theme::SECTION_GAP);
    let Some(shown) = &rt.search.shown else {
        drop_zone_ui(ui, rt);
        return;
    };
    let root = rt.library_dir.clone();
    let mut commands = Vec::new();
    if let Some(item) = &rt.detail {
        egui::Panel::right("search_detail")
            .resizable(false)
            .exact_size(theme::DETAIL_PANEL_WIDTH)
            .frame(theme::panel_frame(ui))
            .show(ui, |ui| {
                super::catalog_tab::detail_ui(ui, item, &mut rt.thumbs, &root, &mut commands)
            });
    }
    egui::Panel::left("search_query")
        .resizable(false)
        .exact_size(theme::SEARCH_QUERY_WIDTH)
        .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
        .show(ui, |ui| {
            let imagenet_words = rt
                .systems
                .iter()
                .find(|s| s.name == shown.system)
                .is_some_and(|s| s.builtin);
            query_ui(ui, shown, imagenet_words, &root, &mut rt.thumbs)
        });
    egui::CentralPanel::default()
        .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
        .show(ui, |ui| match &shown.compared {
            None => results_ui(
                ui,
                "results",
                &shown.result.results,
                COLUMNS,
                &[],
                rt.selected,
                &root,
                &mut rt.thumbs,
                &mut commands,
            ),
            Some((other, compared)) => {
                let mine: Vec<ItemId> = shown.result.results.iter().map(|r| r.item_id).collect();
                let theirs: Vec<ItemId> = compared.results.iter().map(|r| r.item_id).collect();
                let shared: Vec<ItemId> = mine
                    .iter()
                    .copied()
                    .filter(|id| theirs.contains(id))
                    .collect();
                ui.label(
                    RichText::new(format!(
                        "{} of the top {RESULTS} are shared (outlined)",
                        shared.len()
                    ))
                    .weak(),
                );
                ui.columns(2, |columns| {
                    for (ui, (salt, name, results)) in columns.iter_mut().zip([
                        ("results-a", &shown.system, &shown.result.results),
                        ("results-b", other, &compared.results),
                    ]) {
                        ui.label(RichText::new(name.as_str()).strong());
                        results_ui(
                            ui,
                            salt,
                            results,
                            COMPARE_COLUMNS,
                            &shared,
                            rt.selected,
                            &root,
                            &mut rt.thumbs,
                            &mut commands,
                        );
                    }
                });
            }
        });
    rt.commands.extend(commands);
}

fn toolbar_ui(ui: &mut Ui, state: &UiState, rt: &mut Runtime) {
    let commands = &mut rt.commands;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(rt.search.can_go_back(), egui::Button::new("Back"))
            .on_hover_text("The previous query (Alt+Left)")
            .clicked()
        {
            commands.push(Command::SearchHistory(-1));
        }
        if ui
            .add_enabled(rt.search.can_go_forward(), egui::Button::new("Forward"))
            .on_hover_text("The next query (Alt+Right)")
            .clicked()
        {
            commands.push(Command::SearchHistory(1));
        }
        ui.separator();
        if ui
            .button("Open image…")
            .on_hover_text("Search with a photo from disk (Ctrl+O); or drop one on the window")
            .clicked()
        {
            commands.push(Command::PickQueryFile);
        }
        ui.separator();
        let label = ui.label("Category");
        let current = rt
            .search
            .category
            .clone()
            .unwrap_or_else(|| "all".to_owned());
        egui::ComboBox::from_id_salt("search_category")
            .selected_text(current)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(rt.search.category.is_none(), "all")
                    .clicked()
                {
                    commands.push(Command::SetSearchCategory(None));
                }
                for (group, labels) in &rt.catalog.label_groups {
                    if *group != crate::catalog::LabelGroup::Category {
                        continue;
                    }
                    for count in labels {
                        let name = &count.label.name;
                        let chosen = rt.search.category.as_deref() == Some(name.as_str());
                        if ui.selectable_label(chosen, name).clicked() {
                            commands.push(Command::SetSearchCategory(Some(name.clone())));
                        }
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.separator();
        let label = ui.label("Compare with");
        let current = rt
            .search
            .compare_with
            .clone()
            .unwrap_or_else(|| "nothing".to_owned());
        egui::ComboBox::from_id_salt("search_compare")
            .selected_text(current)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(rt.search.compare_with.is_none(), "nothing")
                    .clicked()
                {
                    commands.push(Command::SetCompareSystem(None));
                }
                for system in rt.systems.iter().filter(|s| s.name != state.system) {
                    let chosen = rt.search.compare_with.as_deref() == Some(system.name.as_str());
                    if ui.selectable_label(chosen, &system.name).clicked() {
                        commands.push(Command::SetCompareSystem(Some(system.name.clone())));
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("Run each query with a second system too, side by side");
    });
    // The query's state on a line of its own under the controls, where a long one wraps
    // (never drawn over them).
    ui.horizontal(|ui| {
        if let Some(waiting) = &rt.search.waiting {
            ui.spinner();
            ui.add(egui::Label::new(RichText::new(waiting_text(waiting, &rt.job)).weak()).wrap());
        } else if let Some(running) = &rt.search.running {
            ui.spinner();
            ui.label(
                RichText::new(format!(
                    "Searching {} with {}…",
                    running.source.describe(),
                    running.system
                ))
                .weak(),
            );
        } else if let Some(shown) = &rt.search.shown {
            ui.label(
                RichText::new(format!(
                    "{} results with {} in {:.1} ms",
                    shown.result.results.len(),
                    shown.system,
                    shown.result.timings.total_ms
                ))
                .weak(),
            )
            .on_hover_text(format!(
                "decode {:.1} ms, embed {:.1} ms, search {:.1} ms",
                shown.result.timings.decode_ms,
                shown.result.timings.embed_ms,
                shown.result.timings.search_ms
            ));
        } else {
            ui.label(RichText::new(format!("System: {}", state.system)).weak());
        }
    });
}

/// What a query waiting for indexing says: whose index, and how far indexing has come.
fn waiting_text(waiting: &WaitingQuery, job: &super::JobState) -> String {
    let systems = waiting.systems.join(" and ");
    let progress = match job {
        super::JobState::Running(running) if matches!(&running.kind, super::JobKind::Index { system } if waiting.systems.contains(system)) => {
            widgets::job_progress(running).1
        }
        super::JobState::Running(running) => format!("queued after “{}”", running.name),
        _ => "starting".to_owned(),
    };
    format!(
        "{} waits for the index of {systems} ({progress})",
        waiting.source.describe()
    )
}

/// The empty tab: a large drop zone that says what to do (or, while the first query waits
/// for the catalogue's index, how far indexing has come).
fn drop_zone_ui(ui: &mut Ui, rt: &mut Runtime) {
    let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    let size = ui.available_size();
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let fill = if hovering {
        theme::colours(ui).drop_zone_hover
    } else {
        theme::colours(ui).drop_zone
    };
    ui.painter()
        .rect_filled(rect.shrink(theme::DROP_ZONE_MARGIN), 12.0, fill);
    ui.painter().rect_stroke(
        rect.shrink(theme::DROP_ZONE_MARGIN),
        12.0,
        egui::Stroke::new(2.0, theme::colours(ui).drop_zone_stroke),
        egui::StrokeKind::Inside,
    );
    let mut child = ui.new_child(
        egui::UiBuilder::new()
            .max_rect(rect.shrink(theme::DROP_ZONE_MARGIN * 4.0))
            .layout(Layout::top_down(Align::Center)),
    );
    child.add_space(rect.height() * 0.22);
    if let Some(waiting) = &rt.search.waiting {
        child.label(
            RichText::new("Indexing the catalogue for this search")
                .heading()
                .strong(),
        );
        child.add_space(6.0);
        child.label(RichText::new(waiting_text(waiting, &rt.job)).weak());
        child.add_space(6.0);
        if let super::JobState::Running(running) = &rt.job {
            let (fraction, _) = widgets::job_progress(running);
            widgets::progress_bar_ui(&mut child, fraction, 320.0);
        }
        child.add_space(6.0);
        child.label(
            RichText::new("The results show as soon as every item is embedded.")
                .small()
                .weak(),
        );
        return;
    }
    child.label(RichText::new("Drop a photo here").heading().strong());
    child.add_space(6.0);
    child.label(
        RichText::new(
            "A catalogue shot or a street photo: Vitrine shows the 10 most similar items in \
             the catalogue. Ctrl+V pastes an image from the clipboard.",
        )
        .weak(),
    );
    child.add_space(12.0);
    if child
        .button("Open image…")
        .on_hover_text("Search with a photo from disk (Ctrl+O)")
        .clicked()
    {
        rt.commands.push(Command::PickQueryFile);
    }
    child.add_space(6.0);
    child.label(
        RichText::new("Or choose “Search similar” on any item in the Catalog tab.")
            .small()
            .weak(),
    );
}

/// The query: its image, what it is, and the labels the system sees in it.
/// With `imagenet_words`, the system's classifier names ImageNet classes ("broom",
/// "panpipe" for a beanie): the labels shown first are then the catalogue's own, voted by the
/// nearest items, and ImageNet's words follow under a heading that says whose they are.
fn query_ui(
    ui: &mut Ui,
    shown: &ShownQuery,
    imagenet_words: bool,
    root: &Path,
    thumbs: &mut super::thumbs::ThumbCache,
) {
    ui.label(RichText::new("Query").strong().weak());
    ui.add_space(4.0);
    let side = ui.available_width();
    let thumb = match (&shown.source, &shown.pasted_texture) {
        (QuerySource::Pasted(_), Some(texture)) => Thumb::Ready(texture.clone()),
        (QuerySource::Pasted(_), None) => Thumb::Loading,
        (QuerySource::File(path), _) => full_image(thumbs, root, path.clone()),
        (QuerySource::Item { .. }, _) => {
            full_image(thumbs, root, PathBuf::from(&shown.result.image))
        }
    };
    image_ui(ui, &thumb, Vec2::splat(side));
    ui.add_space(6.0);
    ui.add(egui::Label::new(RichText::new(shown.source.describe()).strong()).wrap());
    let labels_ui = |ui: &mut Ui, labels: &[crate::search::PredictedLabel]| {
        for label in labels {
            ui.horizontal(|ui| {
                widgets::pill_ui(ui, &label.label.replace(':', ": "));
                ui.label(
                    RichText::new(format!("{:.0} %", label.probability * 100.0))
                        .small()
                        .weak(),
                );
            });
        }
    };
    if imagenet_words {
        let voted = crate::search::neighbour_labels(&shown.result.results, NEIGHBOUR_LABELS);
        if !voted.is_empty() {
            ui.add_space(10.0);
            ui.label(RichText::new("Catalogue labels of the nearest items").weak())
                .on_hover_text(
                    "Each label's share of the results' similarity: what the catalogue calls \
                     what this system finds alike",
                );
            labels_ui(ui, &voted);
        }
        if !shown.result.predicted_labels.is_empty() {
            ui.add_space(6.0);
            egui::CollapsingHeader::new("ImageNet's words for it")
                .default_open(false)
                .show(ui, |ui| {
                    ui.label(
                        RichText::new(
                            "imagenet-lite0 names the 1000 ImageNet classes, not the \
                             catalogue's labels; train a system to predict those.",
                        )
                        .small()
                        .weak(),
                    );
                    labels_ui(ui, &shown.result.predicted_labels);
                });
        }
        return;
    }
    if shown.result.predicted_labels.is_empty() {
        return;
    }
    ui.add_space(10.0);
    ui.label(RichText::new("The system sees").weak());
    labels_ui(ui, &shown.result.predicted_labels);
}

/// The whole image at `original`, through the thumbnail cache's loader.
fn full_image(thumbs: &mut super::thumbs::ThumbCache, root: &Path, original: PathBuf) -> Thumb {
    thumbs.texture_or_request(ImageRequest {
        key: ImageKey::Full(original.to_string_lossy().into_owned()),
        thumb: crate::library::thumb_path(root, &original.to_string_lossy()),
        original,
    })
}

/// An RGB image from a pasted picture (alpha composited on white, as files are).
pub(crate) fn rgb_from_pasted(pasted: &egui::ColorImage) -> image::RgbImage {
    let [w, h] = pasted.size;
    let mut out = image::RgbImage::new(w as u32, h as u32);
    for (o, p) in out.pixels_mut().zip(&pasted.pixels) {
        let [r, g, b, a] = p.to_srgba_unmultiplied();
        let a = a as u32;
        let over_white = |c: u8| ((c as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        *o = image::Rgb([over_white(r), over_white(g), over_white(b)]);
    }
    out
}

/// The picture of a pasted query, for the query column.
pub(crate) fn pasted_texture(ctx: &egui::Context, img: &image::RgbImage) -> egui::TextureHandle {
    let color =
        egui::ColorImage::from_rgb([img.width() as usize, img.height() as usize], img.as_raw());
    ctx.load_texture("pasted query", color, egui::TextureOptions::LINEAR)
}

/// The top-10 as a 2×5 grid: rank, score and title under each image; hover for the labels;
/// click to see the item; double-click to search from it.
#[allow(clippy::too_many_arguments)]
fn results_ui(
    ui: &mut Ui,
    id_salt: &str,
    results: &[RankedItem],
    columns: usize,
    shared: &[ItemId],
    selected: Option<ItemId>,
    root: &Path,
    thumbs: &mut super::thumbs::ThumbCache,
    commands: &mut Vec<Command>,
) {
    if results.is_empty() {
        ui.label("No catalogue item passes the filter.");
        return;
    }
    let gap = theme::GRID_GAP;
    let (columns, tile_w) = widgets::grid_columns(ui.available_width(), columns, gap);
    ScrollArea::vertical()
        .id_salt(id_salt)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for row in results.chunks(columns) {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = gap;
                    for item in row {
                        let mark = if selected == Some(item.item_id) {
                            TileMark::Selected
                        } else if shared.contains(&item.item_id) {
                            TileMark::Shared
                        } else {
                            TileMark::Plain
                        };
                        result_tile_ui(ui, item, tile_w, mark, root, thumbs, commands);
                    }
                });
                ui.add_space(gap);
            }
        });
}

/// How a result tile is outlined.
#[derive(Clone, Copy, PartialEq)]
enum TileMark {
    Plain,
    /// The item is open in the detail panel.
    Selected,
    /// Both compared systems returned it.
    Shared,
}

fn result_tile_ui(
    ui: &mut Ui,
    item: &RankedItem,
    width: f32,
    mark: TileMark,
    root: &Path,
    thumbs: &mut super::thumbs::ThumbCache,
    commands: &mut Vec<Command>,
) {
    let stroke = match mark {
        TileMark::Selected => egui::Stroke::new(2.0, theme::ACCENT),
        TileMark::Shared => egui::Stroke::new(2.0, theme::SHARED_RESULT),
        TileMark::Plain => egui::Stroke::new(1.0, theme::colours(ui).card_stroke),
    };
    let frame = egui::Frame::new()
        .fill(theme::colours(ui).card)
        .stroke(stroke)
        .corner_radius(6.0)
        .inner_margin(6.0);
    let response = frame
        .show(ui, |ui| {
            // The frame adds its margins (2 × 6) and stroke (2 × 1) around the content.
            ui.set_width(width - 14.0);
            ui.vertical(|ui| {
                let thumb = thumbs.texture_or_request(ImageRequest::thumb(root, &item.image));
                image_ui(ui, &thumb, Vec2::splat(width - 14.0));
                ui.horizontal(|ui| {
                    ui.label(RichText::new(format!("#{}", item.rank)).strong());
                    ui.label(
                        RichText::new(format!("{:.3}", item.score))
                            .monospace()
                            .weak(),
                    );
                });
                ui.add(egui::Label::new(RichText::new(&item.title).small()).truncate());
            });
        })
        .response;
    let response = ui
        .interact(response.rect, response.id.with("tile"), Sense::click())
        .on_hover_text(format!(
            "{}\n#{} · similarity {:.3}\n{}",
            item.title,
            item.rank,
            item.score,
            item.labels.join(", ")
        ));
    if response.double_clicked() {
        commands.push(Command::SearchItem(item.item_id));
    } else if response.clicked() {
        commands.push(Command::SelectItem(Some(item.item_id)));
    }
}

/// An image fitted into `size`, or a placeholder while it loads or when it cannot be read.
pub(super) fn image_ui(ui: &mut Ui, thumb: &Thumb, size: Vec2) {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    match thumb {
        Thumb::Ready(texture) => {
            let fitted = super::catalog_tab::fit_into(texture.size_vec2(), rect);
            ui.painter().image(
                texture.id(),
                fitted,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
        Thumb::Loading => widgets::paint_loading(ui.painter(), rect),
        Thumb::Failed(reason) => {
            widgets::paint_failed(ui.painter(), rect);
            response.on_hover_text(reason);
        }
    }
}
