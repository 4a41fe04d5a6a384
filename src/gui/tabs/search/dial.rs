//! The colour ↔ shape dial of the Search tab: a slider from 0 (shape: the embedding alone,
//! the default) to 1 (colour: the shallow branch alone) that runs the query on show again
//! when it settles (see [`crate::search`] for the ranking). A drag only moves the value; the
//! query runs on release, on a worker like every query, so the window never waits.
//!
//! A system without a colour branch (`imagenet-lite0`, or one trained with `--shallow off`)
//! shows the slider disabled, with the reason, and its queries rank by shape whatever the
//! slider holds (the value is kept for the next system that has the branch).

use super::SearchTab;
use crate::gui::command::{Command, DialMove, SearchCommand};
use crate::gui::runtime::Runtime;
use crate::index::scan::ColourWeight;
use crate::model::system::SystemInfo;
use eframe::egui;
use egui::Ui;

/// The slider's accessible name and label (ASCII: the bundled fonts have no arrows).
pub(crate) const DIAL_LABEL: &str = "Shape / Colour";

/// What the disabled slider says (the CLI's refusal names the same fix).
const NO_COLOUR_BRANCH: &str = "This system has no colour branch; train one with --shallow on.";

/// Whether `system` has a colour branch, as the library's listing says.
fn has_colour_branch(system: &str, systems: &[SystemInfo]) -> bool {
    systems.iter().any(|s| s.name == system && s.colour_dim > 0)
}

/// The weight a query with `system` ranks by: the dial's, or shape only for a system without
/// a colour branch.
pub(super) fn weight_for(weight: ColourWeight, system: &str, rt: &Runtime) -> ColourWeight {
    if has_colour_branch(system, &rt.systems) {
        weight
    } else {
        ColourWeight::SHAPE_ONLY
    }
}

/// Draws the dial in the toolbar; a move becomes a [`SearchCommand::SetColourWeight`].
pub(super) fn dial_ui(
    ui: &mut Ui,
    tab: &SearchTab,
    system: &str,
    systems: &[SystemInfo],
    commands: &mut Vec<Command>,
) {
    let enabled = has_colour_branch(system, systems);
    let label = ui.label(DIAL_LABEL);
    // Disabled, it shows what the queries rank by (shape); the setting waits underneath.
    let mut value = if enabled {
        tab.colour_weight.value()
    } else {
        0.0
    };
    let slider = egui::Slider::new(&mut value, 0.0..=1.0)
        .step_by(0.05)
        .fixed_decimals(2);
    let response = ui
        .add_enabled(enabled, slider)
        .labelled_by(label.id)
        .on_hover_text(
            "0 ranks by shape (the embedding), 1 by colour (the shallow branch), between by a \
             mix; a comparison system without a colour branch ranks by shape",
        )
        .on_disabled_hover_text(NO_COLOUR_BRANCH);
    let moved = if response.drag_stopped() {
        Some(DialMove::Settled)
    } else if response.changed() && response.dragged() {
        Some(DialMove::Dragging)
    } else if response.changed() {
        Some(DialMove::Settled)
    } else {
        None
    };
    if let Some(moved) = moved
        && let Ok(weight) = ColourWeight::new(value)
    {
        commands.push(SearchCommand::SetColourWeight(weight, moved).into());
    }
}
