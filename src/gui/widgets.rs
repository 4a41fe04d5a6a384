//! Small drawing helpers shared by the panels. Icons are painted as shapes rather than
//! taken from a font: egui's bundled fonts (we ship only those) have no emoji, and a missing
//! glyph would show as an empty box.

use super::job_slot::RunningJob;
use super::theme;
use eframe::egui;
use egui::{Color32, Painter, Pos2, Rect, Shape, Stroke, Ui, Vec2, pos2};

/// Paints a warning sign (a triangle with an exclamation mark) centred on `center`.
pub(crate) fn paint_warning_sign(painter: &Painter, center: Pos2, side: f32, colour: Color32) {
    let h = side * 0.87;
    let top = pos2(center.x, center.y - h / 2.0);
    let left = pos2(center.x - side / 2.0, center.y + h / 2.0);
    let right = pos2(center.x + side / 2.0, center.y + h / 2.0);
    painter.add(Shape::convex_polygon(
        vec![top, right, left],
        colour,
        Stroke::NONE,
    ));
    let bar_width = (side * 0.1).max(1.5);
    let mark = Stroke::new(bar_width, Color32::WHITE);
    painter.line_segment(
        [
            pos2(center.x, center.y - h * 0.14),
            pos2(center.x, center.y + h * 0.2),
        ],
        mark,
    );
    painter.circle_filled(
        pos2(center.x, center.y + h * 0.34),
        bar_width * 0.6,
        Color32::WHITE,
    );
}

/// A warning sign the size of a line of text, laid out like a widget.
pub(crate) fn warning_sign_ui(ui: &mut Ui, colour: Color32) {
    let side = ui.text_style_height(&egui::TextStyle::Body);
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), egui::Sense::hover());
    paint_warning_sign(ui.painter(), rect.center(), side * 0.95, colour);
}

/// A rounded "pill" holding one short text (an item's label in the detail view).
pub(crate) fn pill_ui(ui: &mut Ui, text: &str) {
    egui::Frame::new()
        .fill(theme::colours(ui).accent_tint)
        .corner_radius(10)
        .inner_margin(egui::Margin::symmetric(8, 2))
        .show(ui, |ui| {
            ui.label(egui::RichText::new(text).color(theme::colours(ui).text));
        });
}

/// The placeholder of an image that is loading: a light grey box.
pub(crate) fn paint_loading(painter: &Painter, rect: Rect) {
    painter.rect_filled(rect, 4, theme::colours_of(painter.ctx()).placeholder);
}

/// The placeholder of an image that cannot be shown: a grey box with a warning sign.
pub(crate) fn paint_failed(painter: &Painter, rect: Rect) {
    painter.rect_filled(rect, 4, theme::colours_of(painter.ctx()).placeholder);
    let side = (rect.height().min(rect.width()) * 0.3).max(14.0);
    paint_warning_sign(painter, rect.center(), side, theme::WARNING);
}

/// How far a job has come: the current phase's fraction and what it is doing, e.g.
/// ("Caching features: 352 of 8400, 2 min left").
pub(crate) fn job_progress(running: &RunningJob) -> (f32, String) {
    match running.phases.current() {
        _ if running.cancelling => (0.0, "cancelling…".to_owned()),
        Some(phase) => (
            phase.fraction,
            format!("{}: {}", phase.name, phase.count_text()),
        ),
        None => (0.0, "starting…".to_owned()),
    }
}

/// Every phase of a job so far: the finished ones in a word, the current one with its bar,
/// count and time left (bars never go backwards; see `progress`). Each piece is its own
/// widget, so a wrapping row moves it whole to the next line instead of cutting it off.
pub(crate) fn phases_ui(ui: &mut Ui, running: &RunningJob, bar_width: f32) {
    if running.cancelling {
        ui.label(egui::RichText::new("cancelling…").weak());
        return;
    }
    let Some(current) = running.phases.current() else {
        ui.label(egui::RichText::new("starting…").weak());
        return;
    };
    for phase in &running.phases.phases[..running.phases.phases.len() - 1] {
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!("{}: done", phase.name))
                    .small()
                    .weak(),
            )
            .extend(),
        );
    }
    ui.add(egui::Label::new(egui::RichText::new(&current.name).small()).extend());
    if current.total > 0 {
        progress_bar_ui(ui, current.fraction, bar_width)
            .on_hover_text(format!("{:.0} %", current.fraction * 100.0));
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!(
                    "{:.0} %  {}",
                    current.fraction * 100.0,
                    current.count_text()
                ))
                .small()
                .weak(),
            )
            .extend(),
        );
    }
}

/// The phases one under another, for a narrow panel: the name and its count and time
/// left on one line, the bar across the panel's width under it.
pub(crate) fn phases_stacked_ui(ui: &mut Ui, running: &RunningJob) {
    if running.cancelling || running.phases.phases.is_empty() {
        ui.horizontal_wrapped(|ui| phases_ui(ui, running, 120.0));
        return;
    }
    for phase in &running.phases.phases {
        ui.add(
            egui::Label::new(
                egui::RichText::new(format!(
                    "{}: {:.0} %, {}",
                    phase.name,
                    phase.fraction * 100.0,
                    phase.count_text()
                ))
                .small(),
            )
            .wrap(),
        );
        progress_bar_ui(ui, phase.fraction, ui.available_width());
    }
}

/// A thin progress bar; its text goes beside it, where it stays readable.
pub(crate) fn progress_bar_ui(ui: &mut Ui, fraction: f32, width: f32) -> egui::Response {
    ui.add(
        egui::ProgressBar::new(fraction)
            .desired_width(width)
            .desired_height(theme::PROGRESS_BAR_HEIGHT)
            .corner_radius(theme::PROGRESS_BAR_HEIGHT / 2.0)
            .fill(theme::ACCENT),
    )
}

/// Keeps the text typed in the very frame a click gave `field` the keyboard. egui hands a
/// text field its typed text before it handles the click that focuses it, so when the click
/// and the first key arrive together (a busy window batches them into one frame) that key
/// would be lost. `accept` says which characters the field takes; the cursor goes after them.
pub(crate) fn keep_text_typed_while_focusing(
    ui: &Ui,
    field: &egui::Response,
    text: &mut String,
    accept: impl Fn(char) -> bool,
) {
    // A field that had the keyboard in time took its text itself (and says so: changed).
    if !field.gained_focus() || field.changed() {
        return;
    }
    let typed: String = ui.input(|i| {
        i.events
            .iter()
            .filter_map(|e| match e {
                egui::Event::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .flat_map(str::chars)
            .filter(|&c| accept(c))
            .collect()
    });
    if typed.is_empty() {
        return;
    }
    text.push_str(&typed);
    if let Some(mut state) = egui::text_edit::TextEditState::load(ui.ctx(), field.id) {
        let end = egui::text::CCursor::new(text.chars().count());
        state
            .cursor
            .set_char_range(Some(egui::text::CCursorRange::one(end)));
        state.store(ui.ctx(), field.id);
    }
}

/// How many tiles of a grid fit in `available` points (at most `wanted`, at least 1), and
/// their width: tiles shrink to the minimum width before a column goes, so a narrow window
/// (or 2× scaling) gets fewer columns instead of tiles drawn past its edge.
pub(crate) fn grid_columns(available: f32, wanted: usize, gap: f32) -> (usize, f32) {
    let fits = ((available + gap) / (theme::SEARCH_TILE_MIN + gap)).floor() as usize;
    let columns = wanted.min(fits).max(1);
    let width = ((available - gap * (columns as f32 - 1.0)) / columns as f32).clamp(
        theme::SEARCH_TILE_MIN.min(available),
        theme::SEARCH_TILE_MAX,
    );
    (columns, width)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_grid_drops_columns_before_it_overflows() {
        let (columns, width) = super::grid_columns(1000.0, 5, 10.0);
        assert_eq!(columns, 5);
        assert!((width - 192.0).abs() < 1e-3);
        // 5 tiles of 120 and 4 gaps need 640: 600 holds 4.
        assert_eq!(super::grid_columns(600.0, 5, 10.0).0, 4);
        assert_eq!(super::grid_columns(90.0, 5, 10.0), (1, 90.0));
    }
}
