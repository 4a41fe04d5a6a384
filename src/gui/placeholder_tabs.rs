//! The tabs that arrive in later versions: each says in a short paragraph what it will do,
//! so a newcomer sees the whole shape of the app, and offers no buttons that do nothing.

use super::{Tab, theme};
use eframe::egui;
use egui::{RichText, Ui};

/// What a tab will do, in plain words.
fn description(tab: Tab) -> &'static [&'static str] {
    match tab {
        Tab::Search => &[
            "Drop a photo on the window (a shop picture or a street snapshot) and see the 10 \
             most similar catalogue items, ranked by how alike they look.",
            "You will be able to filter the results by category, blend colour against shape, \
             and compare two systems side by side on the same photo.",
        ],
        Tab::Catalog => &[],
        Tab::Train => &[
            "Fine-tune the feature extractor on this library's own catalogue: the paper's \
             weighted multi-label loss (rare labels weigh most, sharpened by F1 and IoU) and \
             background augmentation, which cuts each garment out and pastes it on a new scene \
             every epoch so it learns to ignore the background.",
            "Progress, losses and validation IoU are shown as it trains; each run becomes a \
             named system you can search with and compare.",
        ],
        Tab::Personalize => &[],
        Tab::Evaluate => &[
            "Objective-guided human score sheets: for each query, a scorer counts how many of \
             the top 10 results match it on each criterion (category, subtype, texture, colour, \
             variety, details, shape).",
            "Systems are blinded and sheets shuffled per scorer, and every answer is saved the \
             moment it is given.",
        ],
        Tab::Analyze => &[
            "The objective-guided human score (OHS) per system and criterion, in the shape of \
             the paper's Table I with the best and worst of each row marked, per-scorer tables, \
             confidence intervals and the agreement between scorers.",
            "Export the tables and the raw scores as CSV.",
        ],
    }
}

/// Draws the placeholder page of a tab that arrives later.
pub(crate) fn placeholder_tab_ui(ui: &mut Ui, tab: Tab) {
    ui.add_space(ui.available_height() * 0.18);
    ui.vertical_centered(|ui| {
        ui.set_max_width(theme::READING_WIDTH);
        egui::Frame::new()
            .fill(theme::CARD_FILL)
            .stroke(egui::Stroke::new(1.0, theme::CARD_STROKE))
            .corner_radius(theme::CARD_RADIUS)
            .inner_margin(24)
            .show(ui, |ui| {
                ui.set_width(theme::READING_WIDTH - 48.0);
                ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                    ui.label(RichText::new(tab.title()).heading().color(theme::TEXT));
                    ui.add_space(6.0);
                    for paragraph in description(tab) {
                        ui.add(egui::Label::new(*paragraph).wrap());
                        ui.add_space(4.0);
                    }
                    ui.add_space(6.0);
                    ui.label(
                        RichText::new("This tab arrives in a later version of Vitrine.")
                            .italics()
                            .color(theme::TEXT_WEAK),
                    );
                });
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_later_tab_says_what_it_will_do() {
        for tab in Tab::ALL
            .into_iter()
            .filter(|t| !matches!(t, Tab::Catalog | Tab::Personalize))
        {
            assert!(!description(tab).is_empty(), "{tab:?}");
        }
    }
}
