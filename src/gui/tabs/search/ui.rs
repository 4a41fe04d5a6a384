//! How the Search tab looks: the toolbar (history, open, category, compare) and the query's
//! state, the drop zone of an empty tab, the query column with the labels the system sees,
//! and the result grid (side by side in compare mode).

use super::query::{RESULTS, WaitingQuery};

use super::{SearchTab, ShownQuery};
use crate::catalog::ItemId;
use crate::gui::command::CatalogCommand;
use crate::gui::command::Command;
use crate::gui::command::QuerySource;
use crate::gui::command::SearchCommand;
use crate::gui::explain_overlay::{ExplainOverlay, query_picture_ui};
use crate::gui::image_widget::image_ui;
use crate::gui::job_slot::{JobKind, JobState};
use crate::gui::runtime::Runtime;
use crate::gui::tabs::catalog::CatalogTab;
use crate::gui::tabs::catalog::detail::detail_ui;
use crate::gui::thumbs::{ImageRequest, Thumb, ThumbCache};
use crate::gui::{theme, widgets};
use crate::search::RankedItem;
use eframe::egui;
use egui::{Align, Layout, RichText, ScrollArea, Sense, Ui, Vec2};
use std::path::Path;

/// Tiles per row of the result grid (2 rows of 5).
const COLUMNS: usize = 5;
/// Tiles per row of each system's grid in compare mode (5 rows of 2, side by side).
const COMPARE_COLUMNS: usize = 2;
/// Catalogue labels voted by the results, shown for a system that names ImageNet classes.
const NEIGHBOUR_LABELS: usize = 6;

impl SearchTab {
    /// Draws the Search tab; the item details come from the Catalog tab's selection.
    pub fn ui(&self, ui: &mut Ui, system: &str, catalog: &CatalogTab, rt: &mut Runtime) {
        egui::Frame::new()
            .inner_margin(theme::PANEL_MARGIN)
            .show(ui, |ui| toolbar_ui(ui, self, system, catalog, rt));
        ui.add_space(theme::SECTION_GAP);
        let Some(shown) = &self.shown else {
            drop_zone_ui(ui, self, rt);
            return;
        };
        let root = rt.library_dir.clone();
        let mut commands = Vec::new();
        // Why similar: with the Explain button on, or while H is held (not while typing).
        let h_held = !rt.typing_at_start
            && !ui.ctx().text_edit_focused()
            && ui.input(|i| i.key_down(egui::Key::H));
        let explain = (self.explain_on || h_held).then_some(&self.explain);
        if let Some(item) = &catalog.detail {
            egui::Panel::right("search_detail")
                .resizable(false)
                .exact_size(theme::DETAIL_PANEL_WIDTH)
                .frame(theme::panel_frame(ui))
                .show(ui, |ui| {
                    detail_ui(ui, item, &mut rt.thumbs, &root, &mut commands)
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
                query_ui(ui, shown, imagenet_words, (&root, explain), &mut rt.thumbs)
            });
        egui::CentralPanel::default()
            .frame(egui::Frame::new().inner_margin(theme::PANEL_MARGIN))
            .show(ui, |ui| match &shown.compared {
                None => {
                    let grid = ResultGrid {
                        id_salt: "results",
                        columns: COLUMNS,
                        shared: &[],
                        selected: catalog.selected,
                        root: &root,
                        system: &shown.system,
                        explain,
                    };
                    results_ui(
                        ui,
                        &shown.result.results,
                        &grid,
                        &mut rt.thumbs,
                        &mut commands,
                    )
                }
                Some((other, compared)) => {
                    let mine: Vec<ItemId> =
                        shown.result.results.iter().map(|r| r.item_id).collect();
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
                            let grid = ResultGrid {
                                id_salt: salt,
                                columns: COMPARE_COLUMNS,
                                shared: &shared,
                                selected: catalog.selected,
                                root: &root,
                                system: name,
                                explain,
                            };
                            results_ui(ui, results, &grid, &mut rt.thumbs, &mut commands);
                        }
                    });
                }
            });
        rt.commands.extend(commands);
    }
}

fn toolbar_ui(ui: &mut Ui, tab: &SearchTab, system: &str, catalog: &CatalogTab, rt: &mut Runtime) {
    let commands = &mut rt.commands;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(tab.can_go_back(), egui::Button::new("Back"))
            .on_hover_text("The previous query (Alt+Left)")
            .clicked()
        {
            commands.push(SearchCommand::History(-1).into());
        }
        if ui
            .add_enabled(tab.can_go_forward(), egui::Button::new("Forward"))
            .on_hover_text("The next query (Alt+Right)")
            .clicked()
        {
            commands.push(SearchCommand::History(1).into());
        }
        ui.separator();
        if ui
            .button("Open image…")
            .on_hover_text("Search with a photo from disk (Ctrl+O); or drop one on the window")
            .clicked()
        {
            commands.push(SearchCommand::PickFile.into());
        }
        ui.separator();
        let label = ui.label("Category");
        let current = tab.category.clone().unwrap_or_else(|| "all".to_owned());
        egui::ComboBox::from_id_salt("search_category")
            .selected_text(current)
            .show_ui(ui, |ui| {
                if ui.selectable_label(tab.category.is_none(), "all").clicked() {
                    commands.push(SearchCommand::SetCategory(None).into());
                }
                for (group, labels) in &catalog.label_groups {
                    if *group != crate::catalog::LabelGroup::Category {
                        continue;
                    }
                    for count in labels {
                        let name = &count.label.name;
                        let chosen = tab.category.as_deref() == Some(name.as_str());
                        if ui.selectable_label(chosen, name).clicked() {
                            commands.push(SearchCommand::SetCategory(Some(name.clone())).into());
                        }
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.separator();
        let label = ui.label("Compare with");
        let current = tab
            .compare_with
            .clone()
            .unwrap_or_else(|| "nothing".to_owned());
        egui::ComboBox::from_id_salt("search_compare")
            .selected_text(current)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(tab.compare_with.is_none(), "nothing")
                    .clicked()
                {
                    commands.push(SearchCommand::SetCompareSystem(None).into());
                }
                for other in rt.systems.iter().filter(|s| s.name != system) {
                    let chosen = tab.compare_with.as_deref() == Some(other.name.as_str());
                    if ui.selectable_label(chosen, &other.name).clicked() {
                        let compare = SearchCommand::SetCompareSystem(Some(other.name.clone()));
                        commands.push(compare.into());
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text("Run each query with a second system too, side by side");
        ui.separator();
        if ui
            .add(egui::Button::new("Explain").selected(tab.explain_on))
            .on_hover_text(
                "Why similar: heatmaps of where the hovered result and the query agree \
                 (red: most). Or hold H over a result",
            )
            .clicked()
        {
            commands.push(SearchCommand::SetExplain(!tab.explain_on).into());
        }
        // A known size, so the wrapping toolbar moves the dial to the next row when it
        // would not fit (a slider's own width is known only once drawn).
        let size = egui::vec2(theme::SEARCH_DIAL_WIDTH, ui.spacing().interact_size.y);
        ui.allocate_ui_with_layout(size, Layout::left_to_right(Align::Center), |ui| {
            super::dial::dial_ui(ui, tab, system, &rt.systems, commands);
        });
    });
    // The query's state on a line of its own under the controls, where a long one wraps
    // (never drawn over them).
    ui.horizontal(|ui| {
        if let Some(waiting) = &tab.waiting {
            ui.spinner();
            let text = waiting_text(waiting, &rt.jobs.current);
            ui.add(egui::Label::new(RichText::new(text).weak()).wrap());
        } else if let Some(asked) = tab.asked.as_ref().filter(|_| tab.is_searching()) {
            ui.spinner();
            ui.label(
                RichText::new(format!(
                    "Searching {} with {}…",
                    asked.source.describe(),
                    asked.system
                ))
                .weak(),
            );
        } else if let Some(shown) = &tab.shown {
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
            ui.label(RichText::new(format!("System: {system}")).weak());
        }
    });
}

/// What a query waiting for indexing says: whose index, and how far indexing has come.
fn waiting_text(waiting: &WaitingQuery, job: &JobState) -> String {
    let systems = waiting.systems.join(" and ");
    let progress = match job {
        JobState::Running(running) if matches!(&running.kind, JobKind::Index { system } if waiting.systems.contains(system)) => {
            widgets::job_progress(running).1
        }
        JobState::Running(running) => format!("queued after “{}”", running.name),
        _ => "starting".to_owned(),
    };
    format!(
        "{} waits for the index of {systems} ({progress})",
        waiting.source.describe()
    )
}

/// The empty tab: a large drop zone that says what to do (or, while the first query waits
/// for the catalogue's index, how far indexing has come).
fn drop_zone_ui(ui: &mut Ui, tab: &SearchTab, rt: &mut Runtime) {
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
    if let Some(waiting) = &tab.waiting {
        child.label(
            RichText::new("Indexing the catalogue for this search")
                .heading()
                .strong(),
        );
        child.add_space(6.0);
        child.label(RichText::new(waiting_text(waiting, &rt.jobs.current)).weak());
        child.add_space(6.0);
        if let JobState::Running(running) = &rt.jobs.current {
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
        rt.commands.push(SearchCommand::PickFile.into());
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
    (root, explain): (&Path, Option<&ExplainOverlay>),
    thumbs: &mut ThumbCache,
) {
    ui.label(RichText::new("Query").strong().weak());
    ui.add_space(4.0);
    let side = ui.available_width();
    let thumb = match (&shown.source, &shown.pasted_texture) {
        (QuerySource::Pasted(_), Some(texture)) => Thumb::Ready(texture.clone()),
        (QuerySource::Pasted(_), None) => Thumb::Loading,
        (QuerySource::File(path), _) => thumbs.texture_or_request(ImageRequest::full(root, path)),
        (QuerySource::Item { .. }, _) => {
            thumbs.texture_or_request(ImageRequest::full(root, &shown.result.image))
        }
    };
    // With Explain on, the query's heatmap towards the explained result replaces it.
    query_picture_ui(ui, explain, &thumb, side);
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

/// Where a grid of result tiles goes and how its tiles are outlined.
struct ResultGrid<'a> {
    /// Tells the grid's scroll area apart from the other's in compare mode.
    id_salt: &'a str,
    /// Tiles per row, at most.
    columns: usize,
    /// Items both compared systems returned.
    shared: &'a [ItemId],
    /// The item open in the detail panel.
    selected: Option<ItemId>,
    /// The library folder (the tiles are its thumbnails).
    root: &'a Path,
    /// The system that ranked these results.
    system: &'a str,
    /// Explain is on: hovered tiles ask why, and the explained one shows its heatmap.
    explain: Option<&'a ExplainOverlay>,
}

/// The top-10 as a 2×5 grid: rank, score and title under each image; hover for the labels;
/// click to see the item; double-click to search from it.
fn results_ui(
    ui: &mut Ui,
    results: &[RankedItem],
    grid: &ResultGrid,
    thumbs: &mut ThumbCache,
    commands: &mut Vec<Command>,
) {
    if results.is_empty() {
        ui.label("No catalogue item passes the filter.");
        return;
    }
    let gap = theme::GRID_GAP;
    let (columns, tile_w) = widgets::grid_columns(ui.available_width(), grid.columns, gap);
    ScrollArea::vertical()
        .id_salt(grid.id_salt)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for row in results.chunks(columns) {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = gap;
                    for item in row {
                        let mark = if grid.selected == Some(item.item_id) {
                            TileMark::Selected
                        } else if grid.shared.contains(&item.item_id) {
                            TileMark::Shared
                        } else {
                            TileMark::Plain
                        };
                        result_tile_ui(ui, item, (tile_w, mark), grid, thumbs, commands);
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

/// One result tile, `width` wide and outlined by its `mark`.
fn result_tile_ui(
    ui: &mut Ui,
    item: &RankedItem,
    (width, mark): (f32, TileMark),
    grid: &ResultGrid,
    thumbs: &mut ThumbCache,
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
                let size = Vec2::splat(width - 14.0);
                let explained = grid
                    .explain
                    .and_then(|e| e.result_ui(ui, grid.system, item.item_id, size));
                if explained.is_none() {
                    let thumb = thumbs.thumb(grid.root, &item.image);
                    image_ui(ui, &thumb, size);
                }
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
    // Explain on: hovering a tile explains it (once: the overlay skips what it has).
    if let Some(explain) = grid.explain
        && response.hovered()
        && explain
            .wanted()
            .is_none_or(|w| w.item != item.item_id || w.system != grid.system)
    {
        commands.push(
            SearchCommand::Explain {
                system: grid.system.to_owned(),
                item: item.item_id,
            }
            .into(),
        );
    }
    if response.double_clicked() {
        let source = QuerySource::Item {
            id: item.item_id,
            title: item.title.clone(),
        };
        commands.push(SearchCommand::Query(source).into());
    } else if response.clicked() {
        commands.push(CatalogCommand::Select(Some(item.item_id)).into());
    }
}
