//! The detail view of an item: the large image (its thumbnail standing in until the whole
//! image arrives), what it is, its labels grouped, and "Search similar". The Catalog tab shows
//! it for the selected item, and so does the Search tab beside its results.

use super::group_title;

use crate::catalog::{Item, LabelGroup};
use crate::gui::command::CatalogCommand;
use crate::gui::command::Command;
use crate::gui::command::{QuerySource, SearchCommand};
use crate::gui::image_widget::paint_image;
use crate::gui::thumbs::{ImageRequest, Thumb, ThumbCache};
use crate::gui::{theme, widgets};
use eframe::egui;
use egui::{Align, Layout, RichText, ScrollArea, Sense, Ui, vec2};
use std::path::Path;

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
                commands.push(CatalogCommand::Select(None).into());
            }
            if ui
                .button("Search similar")
                .on_hover_text("The 10 catalogue items most like this one (Search tab)")
                .clicked()
            {
                commands.push(SearchCommand::Query(QuerySource::item(item)).into());
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
            let full = thumbs.texture_or_request(ImageRequest::full(root, &item.image));
            // Until the full image arrives, the thumbnail (usually already loaded) stands in.
            let shown = match full {
                Thumb::Loading => match thumbs.thumb(root, &item.image) {
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
            paint_image(ui.painter(), &shown, rect);
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
