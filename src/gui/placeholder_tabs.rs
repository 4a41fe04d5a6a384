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
        Tab::Train => &[],
        Tab::Personalize => &[
            "Recommend for a shopper from their cart: the ratings-weighted mean of the items \
             they bought, split into uniform sub-carts by K-Splits, then a personaliser \
             network that predicts what they will want next.",
            "Compare it with popularity, item-kNN and matrix-factorisation baselines by \
             Recall@K on held-out purchases, with the curve for K = 1 to 50.",
        ],
        Tab::Evaluate | Tab::Analyze => &[],
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
            .filter(|t| ![Tab::Catalog, Tab::Train, Tab::Evaluate, Tab::Analyze].contains(t))
        {
            assert!(!description(tab).is_empty(), "{tab:?}");
        }
    }
}
