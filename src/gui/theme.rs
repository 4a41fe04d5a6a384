//! The look of the app: every colour, size and spacing the GUI uses lives here, so a change of
//! style is one edit and the drawing code only names roles ("accent", "placeholder").
//!
//! Vitrine is a light theme: shop photos are shot on white and light grey, and a light frame
//! around them lets the garments, not the chrome, carry the colour.

use eframe::egui;
use egui::{Color32, CornerRadius, Margin, Stroke, Vec2};

/// The one accent colour: selection, progress, the active tab.
pub const ACCENT: Color32 = Color32::from_rgb(79, 70, 229);
/// Text drawn on the accent colour.
pub const ON_ACCENT: Color32 = Color32::WHITE;
/// A light tint of the accent for selected chips and hovered cards.
pub const ACCENT_TINT: Color32 = Color32::from_rgb(224, 222, 252);

/// Side panels and the top bar.
pub const PANEL_FILL: Color32 = Color32::from_rgb(248, 248, 250);
/// Behind the thumbnail grid and the tab pages.
pub const CANVAS_FILL: Color32 = Color32::from_rgb(238, 238, 242);
/// Cards: thumbnails, the demo-catalogue card.
pub const CARD_FILL: Color32 = Color32::WHITE;
/// The thin line around cards.
pub const CARD_STROKE: Color32 = Color32::from_rgb(222, 222, 228);
/// A thumbnail that is still loading.
pub const PLACEHOLDER_FILL: Color32 = Color32::from_rgb(232, 232, 236);
/// A thumbnail that could not be loaded (its warning sign).
pub const WARNING: Color32 = Color32::from_rgb(196, 120, 0);

/// The error banner.
pub const ERROR_FILL: Color32 = Color32::from_rgb(253, 234, 234);
pub const ERROR_STROKE: Color32 = Color32::from_rgb(236, 170, 170);
pub const ERROR_TEXT: Color32 = Color32::from_rgb(150, 28, 28);

/// Body text and weaker text.
pub const TEXT: Color32 = Color32::from_rgb(30, 30, 36);
pub const TEXT_WEAK: Color32 = Color32::from_rgb(110, 110, 122);

/// Gap between thumbnail cards, horizontally and vertically.
pub const GRID_GAP: f32 = 10.0;
/// Padding inside a thumbnail card, around the image and the caption.
pub const CARD_PADDING: f32 = 6.0;
/// Card corners.
pub const CARD_RADIUS: u8 = 6;
/// The default and the range of the thumbnail size slider (the image side, in points).
pub const THUMB_SIZE_DEFAULT: f32 = 132.0;
pub const THUMB_SIZE_MIN: f32 = 72.0;
pub const THUMB_SIZE_MAX: f32 = 220.0;
/// Width of the filter panel and of the item detail panel.
pub const FILTER_PANEL_WIDTH: f32 = 270.0;
pub const DETAIL_PANEL_WIDTH: f32 = 360.0;
/// The tallest the detail view's image gets, and the width of its name column.
pub const DETAIL_IMAGE_MAX_HEIGHT: f32 = 300.0;
pub const DETAIL_KEY_WIDTH: f32 = 64.0;
/// Width of the demo-catalogue card and of centred reading text.
pub const CARD_WIDTH: f32 = 440.0;
pub const READING_WIDTH: f32 = 560.0;
/// Width of the job progress bar in the top bar, and the height of progress bars.
pub const TOP_BAR_PROGRESS_WIDTH: f32 = 160.0;
pub const PROGRESS_BAR_HEIGHT: f32 = 8.0;
/// The unfilled part of progress bars and the track of scroll bars.
pub const TRACK_FILL: Color32 = Color32::from_rgb(226, 226, 234);

/// Margins of panels.
pub const PANEL_MARGIN: Margin = Margin::symmetric(12, 8);

/// Search tab: the query column's width, the result tiles' size range, the drop zone.
pub const SEARCH_QUERY_WIDTH: f32 = 280.0;
pub const SEARCH_TILE_MIN: f32 = 120.0;
pub const SEARCH_TILE_MAX: f32 = 240.0;
pub const SECTION_GAP: f32 = 6.0;
pub const DROP_ZONE_MARGIN: f32 = 16.0;
pub const DROP_ZONE_FILL: Color32 = Color32::from_rgb(246, 246, 250);
pub const DROP_ZONE_HOVER_FILL: Color32 = ACCENT_TINT;
pub const DROP_ZONE_STROKE: Color32 = Color32::from_rgb(190, 188, 230);
/// Outline of a result both compared systems returned.
pub const SHARED_RESULT: Color32 = Color32::from_rgb(22, 150, 110);

/// The OHS table (Analyze tab): the best cell of a row green, the worst red, as in Table I.
pub const BEST_FILL: Color32 = Color32::from_rgb(214, 242, 224);
pub const BEST_TEXT: Color32 = Color32::from_rgb(16, 110, 56);
pub const WORST_FILL: Color32 = Color32::from_rgb(250, 222, 222);
pub const WORST_TEXT: Color32 = Color32::from_rgb(160, 30, 30);
/// One colour per system in charts.
pub const SERIES: [Color32; 6] = [
    ACCENT,
    Color32::from_rgb(230, 140, 30),
    Color32::from_rgb(22, 150, 110),
    Color32::from_rgb(200, 60, 110),
    Color32::from_rgb(90, 150, 220),
    Color32::from_rgb(120, 120, 130),
];

/// Applies Vitrine's style to every theme egui might pick (we always use the light one).
pub fn apply(ctx: &egui::Context) {
    ctx.set_theme(egui::Theme::Light);
    ctx.all_styles_mut(|style| {
        style.spacing.item_spacing = Vec2::new(8.0, 6.0);
        style.spacing.button_padding = Vec2::new(10.0, 4.0);
        style.spacing.interact_size.y = 24.0;
        let v = &mut style.visuals;
        v.panel_fill = PANEL_FILL;
        v.window_fill = CARD_FILL;
        v.extreme_bg_color = TRACK_FILL;
        v.text_edit_bg_color = Some(Color32::WHITE);
        v.faint_bg_color = CANVAS_FILL;
        v.override_text_color = None;
        v.selection.bg_fill = ACCENT;
        v.selection.stroke = Stroke::new(1.0, ON_ACCENT);
        v.hyperlink_color = ACCENT;
        v.warn_fg_color = WARNING;
        v.error_fg_color = ERROR_TEXT;
        v.widgets.noninteractive.fg_stroke = Stroke::new(1.0, TEXT);
        v.widgets.noninteractive.bg_stroke = Stroke::new(1.0, CARD_STROKE);
        for w in [
            &mut v.widgets.inactive,
            &mut v.widgets.hovered,
            &mut v.widgets.active,
            &mut v.widgets.open,
        ] {
            w.corner_radius = CornerRadius::same(5);
        }
        v.widgets.inactive.weak_bg_fill = Color32::from_rgb(234, 234, 240);
        v.widgets.inactive.bg_fill = Color32::from_rgb(226, 226, 234);
        v.widgets.hovered.weak_bg_fill = ACCENT_TINT;
        v.widgets.hovered.bg_stroke = Stroke::new(1.0, ACCENT);
        v.widgets.active.weak_bg_fill = ACCENT_TINT;
        v.widgets.active.bg_stroke = Stroke::new(1.0, ACCENT);
        v.interact_cursor = Some(egui::CursorIcon::PointingHand);
    });
}

/// The frame of side panels and the top bar: the panel fill with the panel margin.
pub fn panel_frame() -> egui::Frame {
    egui::Frame::new()
        .fill(PANEL_FILL)
        .inner_margin(PANEL_MARGIN)
}
