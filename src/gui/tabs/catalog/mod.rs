//! The Catalog tab: every item of the library as a thumbnail grid, with filters on the left
//! and the selected item's details on the right.
//!
//! The grid is virtualised: `ScrollArea::show_rows` over rows of as many columns as the width
//! allows, so only the visible rows are laid out and only their thumbnails are asked for, and
//! a catalogue of thousands of items scrolls as smoothly as one of thirty. Thumbnails come
//! from [`ThumbCache`](crate::gui::thumbs::ThumbCache) (loaded off the UI thread); until one
//! arrives its card shows a grey box, and one that cannot be loaded shows a warning sign with
//! the reason in its tooltip.
//!
//! While the library is empty the tab shows what is happening instead: the demo catalogue
//! being drawn (with its progress and Cancel), or buttons to draw it or import a catalogue
//! (a CSV, or a photo folder with its split). The filters panel keeps "Import photo
//! folder…" at hand once the catalogue has items.
//!
//! The tab owns the catalogue as shown (the filtered items, the label counts) and the
//! selected item, which the Search tab's detail panel and the Personalize tab's "Add selected
//! item" use too; its commands ([`CatalogCommand`]) change the filter and the selection.

mod cards;
pub(crate) mod detail;
pub(crate) mod import;

use crate::catalog::{Item, ItemId, Label, LabelGroup};
use crate::gui::command::CatalogCommand;
use crate::gui::command::Command;
use crate::gui::image_widget::paint_image;
use crate::gui::job_slot::{JobKind, JobState};
use crate::gui::runtime::Runtime;
use crate::gui::theme;
use crate::gui::thumbs::{ImageRequest, Thumb};
use crate::store::{ItemFilter, LabelCount};
use eframe::egui;
use egui::{
    Align, Layout, Rect, RichText, ScrollArea, Sense, Stroke, StrokeKind, TextStyle, TextWrapMode,
    Ui, Vec2, WidgetText, pos2, vec2,
};
use serde::{Deserialize, Serialize};

/// Space kept free on the right of the grid for the (floating) scroll bar.
const SCROLLBAR_ALLOWANCE: f32 = 12.0;
/// Rows below the visible ones whose thumbnails are fetched ahead.
const PREFETCH_ROWS: usize = 2;
/// Groups whose chips start unfolded; the others start folded.
const OPEN_GROUPS: [LabelGroup; 5] = [
    LabelGroup::Category,
    LabelGroup::Subtype,
    LabelGroup::Colour,
    LabelGroup::Texture,
    LabelGroup::Detail,
];

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

/// The Catalog tab's state: the catalogue as the tab shows it (the filtered items and the
/// label counts) and the selected item.
#[derive(Default)]
pub(crate) struct CatalogTab {
    /// The items that pass the current filter, in id order.
    pub items: Vec<Item>,
    /// All items in the library.
    pub total_items: u64,
    /// Every label with its item count, grouped (category first, then subtype, colour …),
    /// most frequent first within a group.
    pub label_groups: Vec<(LabelGroup, Vec<LabelCount>)>,
    pub selected: Option<ItemId>,
    /// The selected item with its labels.
    pub detail: Option<Item>,
    pub grid: GridLayout,
    /// The split choice of "Import photo folder…".
    pub import: import::ImportView,
}

impl CatalogTab {
    /// Carries out one Catalog command.
    pub fn handle(
        &mut self,
        command: CatalogCommand,
        filter: &mut CatalogFilter,
        rt: &mut Runtime,
    ) {
        match command {
            CatalogCommand::SetSearchText(text) => {
                filter.text = text;
                self.query_items(filter, rt);
            }
            CatalogCommand::ToggleLabel(label) => {
                let labels = &mut filter.labels;
                if let Some(i) = labels.iter().position(|l| *l == label) {
                    labels.remove(i);
                } else {
                    labels.push(label);
                }
                self.query_items(filter, rt);
            }
            CatalogCommand::ClearFilters => {
                *filter = CatalogFilter::default();
                self.query_items(filter, rt);
            }
            CatalogCommand::Select(id) => self.select(id, rt),
            CatalogCommand::MoveSelection(delta) => self.move_selection(delta, rt),
        }
    }

    /// Forgets the catalogue of the library that was open (the split choice stays).
    pub fn close(&mut self) {
        let import = std::mem::take(&mut self.import);
        let grid = std::mem::take(&mut self.grid);
        *self = CatalogTab {
            import,
            grid,
            ..CatalogTab::default()
        };
    }

    /// Re-reads the counts, the labels and the filtered items.
    pub fn reload(&mut self, filter: &CatalogFilter, rt: &mut Runtime) {
        let Some(lib) = &rt.library else {
            return;
        };
        let loaded = lib
            .store
            .counts()
            .and_then(|counts| Ok((counts, lib.store.label_counts()?)));
        match loaded {
            Ok((counts, label_counts)) => {
                self.total_items = counts.items;
                self.label_groups = group_labels(label_counts);
            }
            Err(e) => rt.report(format!("Cannot read the catalogue: {e}")),
        }
        self.query_items(filter, rt);
    }

    /// Re-runs the item query for the current filter (once per change, never per frame).
    fn query_items(&mut self, filter: &CatalogFilter, rt: &mut Runtime) {
        let Some(lib) = &rt.library else {
            return;
        };
        match lib.store.items(&filter.to_item_filter()) {
            Ok(items) => self.items = items,
            Err(e) => {
                self.items.clear();
                rt.report(format!("Cannot read the catalogue: {e}"));
            }
        }
    }

    /// Opens (or with `None`, closes) the detail view of an item.
    pub fn select(&mut self, id: Option<ItemId>, rt: &mut Runtime) {
        self.selected = id;
        self.detail = None;
        let Some(id) = id else {
            return;
        };
        if let Some(item) = self.items.iter().find(|it| it.id == id) {
            self.detail = Some(item.clone());
            return;
        }
        let Some(lib) = &rt.library else {
            return;
        };
        match lib.store.item(id) {
            Ok(item) => self.detail = item,
            Err(e) => rt.report(format!("Cannot read item {id}: {e}")),
        }
    }

    fn move_selection(&mut self, delta: isize, rt: &mut Runtime) {
        let items = &self.items;
        if items.is_empty() {
            return;
        }
        let current = self
            .selected
            .and_then(|id| items.iter().position(|it| it.id == id));
        let next = match current {
            Some(i) => i.saturating_add_signed(delta).min(items.len() - 1),
            None => 0,
        };
        let id = items[next].id;
        self.grid.scroll_to_index = Some(next);
        self.select(Some(id), rt);
    }

    /// Draws the Catalog tab.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        filter: &CatalogFilter,
        thumb_size: &mut f32,
        rt: &mut Runtime,
    ) {
        if rt.library.is_none() {
            cards::no_library_ui(ui, &rt.library_dir, &mut rt.commands);
            return;
        }
        if self.total_items == 0 {
            match &rt.jobs.current {
                JobState::Running(running) => match &running.kind {
                    JobKind::DemoCatalogue(opts) => {
                        cards::demo_progress_ui(ui, running, opts, &mut rt.commands)
                    }
                    _ => cards::empty_library_ui(
                        ui,
                        &rt.jobs.current,
                        &mut self.import,
                        &mut rt.commands,
                    ),
                },
                job => cards::empty_library_ui(ui, job, &mut self.import, &mut rt.commands),
            }
            return;
        }

        egui::Panel::left("filters")
            .resizable(true)
            .default_size(theme::FILTER_PANEL_WIDTH)
            .frame(theme::panel_frame(ui))
            .show(ui, |ui| {
                import::import_button_ui(ui, &mut self.import, &mut rt.commands);
                ui.separator();
                filters_ui(ui, filter, &self.label_groups, &mut rt.commands)
            });

        if let Some(item) = &self.detail {
            egui::Panel::right("detail")
                .resizable(true)
                .default_size(theme::DETAIL_PANEL_WIDTH)
                .frame(theme::panel_frame(ui))
                .show(ui, |ui| {
                    detail::detail_ui(ui, item, &mut rt.thumbs, &rt.library_dir, &mut rt.commands);
                });
        }

        egui::CentralPanel::default()
            .frame(
                egui::Frame::new()
                    .fill(theme::colours(ui).canvas)
                    .inner_margin(theme::PANEL_MARGIN),
            )
            .show(ui, |ui| self.grid_ui(ui, thumb_size, rt));
    }

    /// The count, the size slider and the virtualised grid.
    fn grid_ui(&mut self, ui: &mut Ui, thumb_size: &mut f32, rt: &mut Runtime) {
        let shown = self.items.len();
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("{shown} of {} items", self.total_items))
                    .strong()
                    .size(15.0),
            );
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let slider = ui.add(
                    egui::Slider::new(thumb_size, theme::THUMB_SIZE_MIN..=theme::THUMB_SIZE_MAX)
                        .show_value(false)
                        .trailing_fill(true),
                );
                let label = ui.label("Thumbnail size");
                slider.labelled_by(label.id);
            });
        });
        ui.add_space(4.0);

        if shown == 0 {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.label("No items match these filters.");
                if ui.button("Clear filters").clicked() {
                    rt.commands.push(CatalogCommand::ClearFilters.into());
                }
            });
            return;
        }

        let size = thumb_size.clamp(theme::THUMB_SIZE_MIN, theme::THUMB_SIZE_MAX);
        let pad = theme::CARD_PADDING;
        let gap = theme::GRID_GAP;
        let caption_height = ui.text_style_height(&TextStyle::Small);
        let card_height = (pad + size + 4.0 + caption_height + pad).round();
        let min_card_width = size + 2.0 * pad;
        let width = (ui.available_width() - SCROLLBAR_ALLOWANCE).max(min_card_width);
        let columns = (((width + gap) / (min_card_width + gap)).floor() as usize).max(1);
        let card_width = ((width - gap * (columns - 1) as f32) / columns as f32)
            .floor()
            .max(min_card_width);
        let rows = shown.div_ceil(columns);
        self.grid.columns = columns;

        let mut area = ScrollArea::vertical()
            .id_salt("grid")
            .auto_shrink([false, false]);
        if let Some(index) = self.grid.scroll_to_index.take() {
            let pitch = card_height + gap;
            let top = (index / columns) as f32 * pitch;
            let (offset, height) = (self.grid.offset_y, self.grid.view_height);
            if top < offset {
                area = area.vertical_scroll_offset(top);
            } else if top + card_height > offset + height {
                area = area.vertical_scroll_offset(top + card_height - height);
            }
        }

        let root = rt.library_dir.clone();
        let selected = self.selected;
        let items = &self.items;
        let thumbs = &mut rt.thumbs;
        let commands = &mut rt.commands;
        let output = ui
            .scope(|ui| {
                ui.spacing_mut().item_spacing = vec2(gap, gap);
                area.show_rows(ui, card_height, rows, |ui, row_range| {
                    for row in row_range.clone() {
                        ui.horizontal(|ui| {
                            let end = ((row + 1) * columns).min(items.len());
                            for item in &items[row * columns..end] {
                                let thumb = thumbs.thumb(&root, &item.image);
                                let card = thumb_card_ui(
                                    ui,
                                    item,
                                    &thumb,
                                    vec2(card_width, card_height),
                                    size,
                                    selected == Some(item.id),
                                );
                                if card.clicked() {
                                    commands.push(CatalogCommand::Select(Some(item.id)).into());
                                }
                            }
                        });
                    }
                    let ahead = (row_range.end * columns).min(items.len())
                        ..((row_range.end + PREFETCH_ROWS) * columns).min(items.len());
                    for item in &items[ahead] {
                        thumbs.prefetch(ImageRequest::thumb(&root, &item.image));
                    }
                })
            })
            .inner;
        self.grid.offset_y = output.state.clamped_offset().y;
        self.grid.view_height = output.inner_rect.height();
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

/// The search box and the label chips, grouped by label group.
fn filters_ui(
    ui: &mut Ui,
    filter: &CatalogFilter,
    label_groups: &[(LabelGroup, Vec<LabelCount>)],
    commands: &mut Vec<Command>,
) {
    ui.add_space(4.0);
    let label = ui.label(RichText::new("Search").strong());
    let mut text = filter.text.clone();
    let search = ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .hint_text("Title or key")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    if search.changed() {
        commands.push(CatalogCommand::SetSearchText(text).into());
    }
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Labels").strong());
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let clear = ui.add_enabled(
                !filter.is_empty(),
                egui::Button::new("Clear filters").small(),
            );
            if clear.clicked() {
                commands.push(CatalogCommand::ClearFilters.into());
            }
        });
    });
    ui.label(
        RichText::new("Items must carry every chosen label.")
            .small()
            .weak(),
    );
    ui.separator();
    ScrollArea::vertical()
        .id_salt("filter_chips")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (group, counts) in label_groups {
                egui::CollapsingHeader::new(RichText::new(group_title(*group)).strong())
                    .id_salt(group.as_str())
                    .default_open(OPEN_GROUPS.contains(group))
                    .show(ui, |ui| {
                        ui.horizontal_wrapped(|ui| {
                            ui.spacing_mut().item_spacing = vec2(4.0, 4.0);
                            for count in counts {
                                let selected = filter.labels.contains(&count.label);
                                if chip_ui(ui, &count.label.name, count.items, selected).clicked() {
                                    let toggle = CatalogCommand::ToggleLabel(count.label.clone());
                                    commands.push(toggle.into());
                                }
                            }
                        });
                    });
            }
        });
}

/// A checkable label chip: "red 123". Its accessible name is the same text.
fn chip_ui(ui: &mut Ui, name: &str, items: u64, selected: bool) -> egui::Response {
    let (name_colour, count_colour) = if selected {
        (theme::ON_ACCENT, theme::colours(ui).accent_tint)
    } else {
        (theme::colours(ui).text, theme::colours(ui).text_weak)
    };
    let mut chip = egui::Button::selectable(
        selected,
        (
            RichText::new(name).color(name_colour),
            RichText::new(items.to_string()).small().color(count_colour),
        ),
    )
    .frame_when_inactive(true)
    .corner_radius(11);
    if selected {
        chip = chip.fill(theme::ACCENT);
    }
    ui.add(chip)
}

/// "Category", "Subtype" … for the group headers.
pub(crate) fn group_title(group: LabelGroup) -> String {
    capitalised(group.as_str())
}

/// `text` with its first letter in upper case.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One card of the grid: the thumbnail (or its placeholder) and the title under it.
fn thumb_card_ui(
    ui: &mut Ui,
    item: &Item,
    thumb: &Thumb,
    card_size: Vec2,
    image_side: f32,
    selected: bool,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(card_size, Sense::click());
    let name = format!("{} ({})", item.title, item.key);
    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::Button, true, selected, &name));
    if ui.is_rect_visible(rect) {
        let painter = ui.painter();
        let (fill, stroke) = if selected {
            (
                theme::colours(ui).accent_tint,
                Stroke::new(2.0, theme::ACCENT),
            )
        } else if response.hovered() {
            (theme::colours(ui).card, Stroke::new(1.0, theme::ACCENT))
        } else {
            (
                theme::colours(ui).card,
                Stroke::new(1.0, theme::colours(ui).card_stroke),
            )
        };
        painter.rect(rect, theme::CARD_RADIUS, fill, stroke, StrokeKind::Inside);
        let pad = theme::CARD_PADDING;
        let image_rect = Rect::from_center_size(
            pos2(rect.center().x, rect.top() + pad + image_side / 2.0),
            Vec2::splat(image_side),
        );
        paint_image(painter, thumb, image_rect);
        let caption = WidgetText::from(RichText::new(&item.title).small()).into_galley(
            ui,
            Some(TextWrapMode::Truncate),
            rect.width() - 2.0 * pad,
            TextStyle::Small,
        );
        let caption_pos = pos2(
            rect.center().x - caption.size().x / 2.0,
            image_rect.bottom() + 4.0,
        );
        ui.painter()
            .galley(caption_pos, caption, theme::colours(ui).text);
    }
    match thumb {
        Thumb::Failed(reason) => {
            response.on_hover_text(format!("Cannot show the image of {}:\n{reason}", item.key))
        }
        _ => response.on_hover_text(format!("{}\n{}", item.title, item.key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_titles_are_capitalised() {
        assert_eq!(group_title(LabelGroup::Category), "Category");
    }
}
