//! The Catalog tab: every item of the library as a thumbnail grid, with filters on the left
//! and the selected item's details on the right.
//!
//! The grid is virtualised: `ScrollArea::show_rows` over rows of as many columns as the width
//! allows, so only the visible rows are laid out and only their thumbnails are asked for, and
//! a catalogue of thousands of items scrolls as smoothly as one of thirty. Thumbnails come
//! from [`ThumbCache`] (loaded off the UI thread); until one arrives its card shows a grey box,
//! and one that cannot be loaded shows a warning sign with the reason in its tooltip.
//!
//! While the library is empty the tab shows what is happening instead: the demo catalogue
//! being drawn (with its progress and Cancel), or buttons to draw it or import a catalogue
//! (a CSV, or a photo folder with its split). The filters panel keeps "Import photo
//! folder…" at hand once the catalogue has items.

use super::thumbs::{ImageKey, ImageRequest, Thumb, ThumbCache};
use super::widgets;
use super::{
    CatalogFilter, CatalogView, Command, JobKind, JobState, RunningJob, Runtime, UiState, theme,
};
use crate::catalog::{Item, LabelGroup};
use crate::sources::demo::DemoOptions;
use eframe::egui;
use egui::{
    Align, Layout, Rect, RichText, ScrollArea, Sense, Stroke, StrokeKind, TextStyle, TextWrapMode,
    Ui, Vec2, WidgetText, pos2, vec2,
};
use std::path::Path;

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

/// Draws the Catalog tab.
pub(crate) fn catalog_tab_ui(ui: &mut Ui, state: &mut UiState, rt: &mut Runtime) {
    if rt.library.is_none() {
        no_library_ui(ui, &rt.library_dir, &mut rt.commands);
        return;
    }
    if rt.catalog.total_items == 0 {
        match &rt.job {
            JobState::Running(running) => match &running.kind {
                JobKind::DemoCatalogue(opts) => {
                    demo_progress_ui(ui, running, opts, &mut rt.commands)
                }
                _ => empty_library_ui(ui, &rt.job, &mut rt.import, &mut rt.commands),
            },
            job => empty_library_ui(ui, job, &mut rt.import, &mut rt.commands),
        }
        return;
    }

    egui::Panel::left("filters")
        .resizable(true)
        .default_size(theme::FILTER_PANEL_WIDTH)
        .frame(theme::panel_frame(ui))
        .show(ui, |ui| {
            super::import::import_button_ui(ui, &mut rt.import, &mut rt.commands);
            ui.separator();
            filters_ui(ui, &state.filter, &rt.catalog, &mut rt.commands)
        });

    if let Some(item) = &rt.detail {
        egui::Panel::right("detail")
            .resizable(true)
            .default_size(theme::DETAIL_PANEL_WIDTH)
            .frame(theme::panel_frame(ui))
            .show(ui, |ui| {
                detail_ui(ui, item, &mut rt.thumbs, &rt.library_dir, &mut rt.commands);
            });
    }

    egui::CentralPanel::default()
        .frame(
            egui::Frame::new()
                .fill(theme::colours(ui).canvas)
                .inner_margin(theme::PANEL_MARGIN),
        )
        .show(ui, |ui| grid_ui(ui, state, rt));
}

/// The search box and the label chips, grouped by label group.
fn filters_ui(
    ui: &mut Ui,
    filter: &CatalogFilter,
    view: &CatalogView,
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
        commands.push(Command::SetSearchText(text));
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
                commands.push(Command::ClearFilters);
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
            for (group, counts) in &view.label_groups {
                egui::CollapsingHeader::new(RichText::new(group_title(*group)).strong())
                    .id_salt(group.as_str())
                    .default_open(OPEN_GROUPS.contains(group))
                    .show(ui, |ui| {
                        ui.horizontal_wrapped(|ui| {
                            ui.spacing_mut().item_spacing = vec2(4.0, 4.0);
                            for count in counts {
                                let selected = filter.labels.contains(&count.label);
                                if chip_ui(ui, &count.label.name, count.items, selected).clicked() {
                                    commands.push(Command::ToggleLabel(count.label.clone()));
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
fn group_title(group: LabelGroup) -> String {
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

/// The count, the size slider and the virtualised grid.
fn grid_ui(ui: &mut Ui, state: &mut UiState, rt: &mut Runtime) {
    let shown = rt.catalog.items.len();
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("{shown} of {} items", rt.catalog.total_items))
                .strong()
                .size(15.0),
        );
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            let slider = ui.add(
                egui::Slider::new(
                    &mut state.thumb_size,
                    theme::THUMB_SIZE_MIN..=theme::THUMB_SIZE_MAX,
                )
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
                rt.commands.push(Command::ClearFilters);
            }
        });
        return;
    }

    let size = state
        .thumb_size
        .clamp(theme::THUMB_SIZE_MIN, theme::THUMB_SIZE_MAX);
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
    rt.grid.columns = columns;

    let mut area = ScrollArea::vertical()
        .id_salt("grid")
        .auto_shrink([false, false]);
    if let Some(index) = rt.grid.scroll_to_index.take() {
        let pitch = card_height + gap;
        let top = (index / columns) as f32 * pitch;
        let (offset, height) = (rt.grid.offset_y, rt.grid.view_height);
        if top < offset {
            area = area.vertical_scroll_offset(top);
        } else if top + card_height > offset + height {
            area = area.vertical_scroll_offset(top + card_height - height);
        }
    }

    let root = rt.library_dir.clone();
    let selected = rt.selected;
    let items = &rt.catalog.items;
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
                            let thumb = thumbs.texture_or_request(thumb_request(&root, item));
                            let card = thumb_card_ui(
                                ui,
                                item,
                                &thumb,
                                vec2(card_width, card_height),
                                size,
                                selected == Some(item.id),
                            );
                            if card.clicked() {
                                commands.push(Command::SelectItem(Some(item.id)));
                            }
                        }
                    });
                }
                let ahead = (row_range.end * columns).min(items.len())
                    ..((row_range.end + PREFETCH_ROWS) * columns).min(items.len());
                for item in &items[ahead] {
                    thumbs.prefetch(thumb_request(&root, item));
                }
            })
        })
        .inner;
    rt.grid.offset_y = output.state.clamped_offset().y;
    rt.grid.view_height = output.inner_rect.height();
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
        image_or_placeholder(ui, thumb, image_rect);
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

/// Paints a loaded image fitted into `rect` (keeping its aspect ratio), a grey box while it
/// loads, or a warning sign when it cannot be shown.
fn image_or_placeholder(ui: &Ui, thumb: &Thumb, rect: Rect) {
    let painter = ui.painter();
    match thumb {
        Thumb::Ready(texture) => {
            let fitted = fit_into(texture.size_vec2(), rect);
            let uv = Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0));
            painter.image(texture.id(), fitted, uv, egui::Color32::WHITE);
        }
        Thumb::Loading => widgets::paint_loading(painter, rect),
        Thumb::Failed(_) => widgets::paint_failed(painter, rect),
    }
}

/// The largest rect with the aspect ratio of `size` centred in `within`.
pub(crate) fn fit_into(size: Vec2, within: Rect) -> Rect {
    if size.x <= 0.0 || size.y <= 0.0 {
        return within;
    }
    let scale = (within.width() / size.x).min(within.height() / size.y);
    Rect::from_center_size(within.center(), size * scale)
}

fn thumb_request(root: &Path, item: &Item) -> ImageRequest {
    ImageRequest::thumb(root, &item.image)
}

/// The detail view of the selected item: the large image, what it is, and its labels.
pub(crate) fn detail_ui(
    ui: &mut Ui,
    item: &Item,
    thumbs: &mut ThumbCache,
    root: &Path,
    commands: &mut Vec<Command>,
) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label(RichText::new("Item").strong().weak());
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if ui
                .button("Close")
                .on_hover_text("Close the details (Esc)")
                .clicked()
            {
                commands.push(Command::SelectItem(None));
            }
            if ui
                .button("Search similar")
                .on_hover_text("The 10 catalogue items most like this one (Search tab)")
                .clicked()
            {
                commands.push(Command::SearchItem(item.id));
            }
        });
    });
    ScrollArea::vertical()
        .id_salt("detail")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.add(egui::Label::new(RichText::new(&item.title).heading()).wrap());
            ui.add_space(6.0);

            let width = ui.available_width();
            let full = thumbs.texture_or_request(ImageRequest {
                key: ImageKey::Full(item.image.clone()),
                ..thumb_request(root, item)
            });
            // Until the full image arrives, the thumbnail (usually already loaded) stands in.
            let shown = match full {
                Thumb::Loading => match thumbs.texture_or_request(thumb_request(root, item)) {
                    Thumb::Ready(t) => Thumb::Ready(t),
                    _ => Thumb::Loading,
                },
                other => other,
            };
            let height = match &shown {
                Thumb::Ready(t) => {
                    let s = t.size_vec2();
                    (width * s.y / s.x.max(1.0)).min(theme::DETAIL_IMAGE_MAX_HEIGHT)
                }
                _ => width.min(theme::DETAIL_IMAGE_MAX_HEIGHT),
            };
            let (rect, image_response) =
                ui.allocate_exact_size(vec2(width, height), Sense::hover());
            ui.painter()
                .rect_filled(rect, theme::CARD_RADIUS, theme::colours(ui).card);
            image_or_placeholder(ui, &shown, rect);
            if let Thumb::Failed(reason) = &shown {
                image_response.on_hover_text(reason);
                ui.horizontal_top(|ui| {
                    widgets::warning_sign_ui(ui, theme::WARNING);
                    ui.add(egui::Label::new(RichText::new(reason).color(theme::WARNING)).wrap());
                });
            }
            ui.add_space(8.0);

            ui.label(RichText::new("Labels").strong());
            if item.labels.is_empty() {
                ui.label(RichText::new("none").weak());
            }
            for group in LabelGroup::ALL {
                let names: Vec<&str> = item
                    .labels
                    .iter()
                    .filter(|l| l.group == group)
                    .map(|l| l.name.as_str())
                    .collect();
                if names.is_empty() {
                    continue;
                }
                ui.horizontal_top(|ui| {
                    let row_height = ui.spacing().interact_size.y;
                    ui.allocate_ui_with_layout(
                        vec2(theme::DETAIL_KEY_WIDTH, row_height),
                        Layout::left_to_right(Align::Center),
                        |ui| {
                            ui.set_min_width(theme::DETAIL_KEY_WIDTH);
                            ui.label(RichText::new(group_title(group)).weak());
                        },
                    );
                    ui.horizontal_wrapped(|ui| {
                        ui.spacing_mut().item_spacing = vec2(4.0, 4.0);
                        for name in names {
                            widgets::pill_ui(ui, name);
                        }
                    });
                });
            }
            ui.add_space(10.0);

            egui::Grid::new("item_facts")
                .min_col_width(theme::DETAIL_KEY_WIDTH)
                .num_columns(2)
                .spacing(vec2(12.0, 4.0))
                .show(ui, |ui| {
                    fact_ui(ui, "Key", &item.key);
                    fact_ui(ui, "Source", item.source.as_str());
                    fact_ui(
                        ui,
                        "Size",
                        &format!("{} × {} px", item.width_px, item.height_px),
                    );
                    if let Some(product) = &item.product {
                        fact_ui(ui, "Product", product);
                    }
                    if let Some(partition) = item.partition {
                        fact_ui(ui, "Partition", partition.as_str());
                    }
                    if let Some(in_stock) = item.in_stock {
                        fact_ui(ui, "In stock", if in_stock { "yes" } else { "no" });
                    }
                    fact_ui(ui, "Image", &item.image);
                });
            ui.add_space(12.0);
            ui.label(
                RichText::new("Arrow keys: next item · Esc: close")
                    .small()
                    .weak(),
            );
        });
}

fn fact_ui(ui: &mut Ui, name: &str, value: &str) {
    ui.label(RichText::new(name).weak());
    ui.add(egui::Label::new(RichText::new(value).color(theme::colours(ui).text)).truncate())
        .on_hover_text(value);
    ui.end_row();
}

/// A card in the middle of the tab.
fn centred_card_ui(ui: &mut Ui, add_contents: impl FnOnce(&mut Ui)) {
    ui.add_space(ui.available_height() * 0.2);
    ui.vertical_centered(|ui| {
        egui::Frame::new()
            .fill(theme::colours(ui).card)
            .stroke(Stroke::new(1.0, theme::colours(ui).card_stroke))
            .corner_radius(theme::CARD_RADIUS)
            .inner_margin(24)
            .show(ui, |ui| {
                ui.set_width(theme::CARD_WIDTH);
                ui.with_layout(Layout::top_down(Align::Min), add_contents);
            });
    });
}

/// The first start: the demo catalogue being drawn.
fn demo_progress_ui(
    ui: &mut Ui,
    running: &RunningJob,
    opts: &DemoOptions,
    commands: &mut Vec<Command>,
) {
    centred_card_ui(ui, |ui| {
        ui.label(RichText::new("Creating the demo catalogue…").heading());
        ui.add_space(6.0);
        ui.add(
            egui::Label::new(format!(
                "Vitrine is drawing {} shop photos of garments, {} shoppers with their \
                 purchases and {} street photos, so that everything can be tried without \
                 downloading a dataset. The catalogue appears here when it is ready.",
                opts.items,
                opts.users,
                opts.street.min(opts.items)
            ))
            .wrap(),
        );
        ui.add_space(10.0);
        let (fraction, text) = widgets::job_progress(running);
        ui.label(RichText::new(capitalised(&text)).weak());
        widgets::progress_bar_ui(ui, fraction, ui.available_width());
        ui.add_space(10.0);
        let cancel = ui.add_enabled(!running.cancelling, egui::Button::new("Cancel"));
        if cancel.clicked() {
            commands.push(super::JobCommand::Cancel.into());
        }
    });
}

/// An empty library, no job drawing it.
fn empty_library_ui(
    ui: &mut Ui,
    job: &JobState,
    import: &mut super::import::ImportView,
    commands: &mut Vec<Command>,
) {
    let opts = DemoOptions::default();
    centred_card_ui(ui, |ui| {
        ui.label(RichText::new("This library is empty").heading());
        ui.add_space(6.0);
        if let JobState::Cancelled { .. } = job {
            ui.label(
                RichText::new("The demo catalogue was cancelled; nothing of it was kept.").weak(),
            );
        }
        ui.add(
            egui::Label::new(format!(
                "Draw the demo catalogue ({} shop photos, {} shoppers, {} street photos) to try \
                 Vitrine without a dataset, import a folder of your own photos (one folder per \
                 category), or import another catalogue (File > Import catalogue: a CSV, \
                 Fashion Product Images or DeepFashion In-shop). Either way the catalogue is \
                 indexed by itself, so the first search just works.",
                opts.items, opts.users, opts.street
            ))
            .wrap(),
        );
        ui.add_space(10.0);
        let running = matches!(job, JobState::Running(_));
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!running, egui::Button::new("Create the demo catalogue"))
                .clicked()
            {
                commands.push(Command::CreateDemo);
            }
            if ui.button("Import a CSV catalogue…").clicked() {
                commands.push(Command::PickImport(super::menu::ImportKind::Csv));
            }
        });
        ui.add_space(6.0);
        super::import::import_button_ui(ui, import, commands);
    });
}

/// The library folder could not be opened (the banner says why).
fn no_library_ui(ui: &mut Ui, dir: &Path, commands: &mut Vec<Command>) {
    centred_card_ui(ui, |ui| {
        ui.label(RichText::new("No library is open").heading());
        ui.add_space(6.0);
        ui.add(
            egui::Label::new(format!(
                "Vitrine could not open {} (the message above says why). Open another folder; \
                 an empty folder becomes a new library.",
                dir.display()
            ))
            .wrap(),
        );
        ui.add_space(10.0);
        if ui.button("Open library…").clicked() {
            commands.push(Command::PickLibraryFolder);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_keep_their_aspect_ratio_when_fitted() {
        let within = Rect::from_min_size(pos2(0.0, 0.0), vec2(100.0, 100.0));
        let r = fit_into(vec2(200.0, 100.0), within);
        assert_eq!((r.width(), r.height()), (100.0, 50.0));
        assert_eq!(r.center(), within.center());
    }

    #[test]
    fn group_titles_are_capitalised() {
        assert_eq!(group_title(LabelGroup::Category), "Category");
    }
}
