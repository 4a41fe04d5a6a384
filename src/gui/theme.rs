//! The look of the app: every colour, size and spacing the GUI uses lives here, so a change of
//! style is one edit and the drawing code only names roles ("accent", "placeholder").
//!
//! Two palettes, light and dark ([`Palette`]): the window follows the desktop's theme unless
//! the View menu picks one. Shop photos are shot on white and light grey; in both themes a
//! card frames them a step apart from the page, so the garments, not the chrome, carry the
//! colour.

use eframe::egui;
use egui::{Color32, CornerRadius, Margin, Stroke, Vec2};

/// The one accent colour: selection, progress, the active tab (the same in both themes).
pub const ACCENT: Color32 = Color32::from_rgb(79, 70, 229);
/// Text drawn on the accent colour.
pub const ON_ACCENT: Color32 = Color32::WHITE;
/// A thumbnail that could not be loaded (its warning sign).
pub const WARNING: Color32 = Color32::from_rgb(196, 120, 0);

/// The colours that change with the theme. Drawing code asks for them by role with
/// [`colours`] (or [`colours_of`] where it only has the context).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    /// Side panels, the top bar and the status line.
    pub panel: Color32,
    /// Behind the thumbnail grid and the tab pages.
    pub canvas: Color32,
    /// Cards: thumbnails, the demo-catalogue card.
    pub card: Color32,
    /// The thin line around cards.
    pub card_stroke: Color32,
    /// A thumbnail that is still loading.
    pub placeholder: Color32,
    /// A tint of the accent for selected chips, marked tiles and hovered cards.
    pub accent_tint: Color32,
    /// The accent as text or outline on the page (lighter in the dark theme).
    pub accent_text: Color32,
    /// The error banner.
    pub error_fill: Color32,
    pub error_stroke: Color32,
    pub error_text: Color32,
    /// Body text and weaker text.
    pub text: Color32,
    pub text_weak: Color32,
    pub track: Color32,
    /// The Search tab's drop zone, and its look while a file is dragged over the window.
    pub drop_zone: Color32,
    pub drop_zone_hover: Color32,
    pub drop_zone_stroke: Color32,
    /// The OHS table (Analyze tab): the best cell of a row green, the worst red (Table I).
    pub best_fill: Color32,
    pub best_text: Color32,
    pub worst_fill: Color32,
    pub worst_text: Color32,
    /// Buttons at rest.
    pub button: Color32,
    pub button_weak: Color32,
    /// Behind text fields.
    pub field: Color32,
}

/// The light theme: shop photos are shot on white and light grey, and a light frame around
/// them lets the garments, not the chrome, carry the colour.
pub const LIGHT: Palette = Palette {
    panel: Color32::from_rgb(248, 248, 250),
    canvas: Color32::from_rgb(238, 238, 242),
    card: Color32::WHITE,
    card_stroke: Color32::from_rgb(222, 222, 228),
    placeholder: Color32::from_rgb(232, 232, 236),
    accent_tint: Color32::from_rgb(224, 222, 252),
    accent_text: ACCENT,
    error_fill: Color32::from_rgb(253, 234, 234),
    error_stroke: Color32::from_rgb(236, 170, 170),
    error_text: Color32::from_rgb(150, 28, 28),
    text: Color32::from_rgb(30, 30, 36),
    text_weak: Color32::from_rgb(110, 110, 122),
    track: Color32::from_rgb(226, 226, 234),
    drop_zone: Color32::from_rgb(246, 246, 250),
    drop_zone_hover: Color32::from_rgb(224, 222, 252),
    drop_zone_stroke: Color32::from_rgb(190, 188, 230),
    best_fill: Color32::from_rgb(214, 242, 224),
    best_text: Color32::from_rgb(16, 110, 56),
    worst_fill: Color32::from_rgb(250, 222, 222),
    worst_text: Color32::from_rgb(160, 30, 30),
    button: Color32::from_rgb(226, 226, 234),
    button_weak: Color32::from_rgb(234, 234, 240),
    field: Color32::WHITE,
};

/// The dark theme: the same roles on dark greys; photos keep their own light backgrounds,
/// so cards stay a step lighter than the page.
pub const DARK: Palette = Palette {
    panel: Color32::from_rgb(32, 33, 38),
    canvas: Color32::from_rgb(22, 23, 27),
    card: Color32::from_rgb(44, 45, 52),
    card_stroke: Color32::from_rgb(66, 67, 78),
    placeholder: Color32::from_rgb(56, 57, 66),
    accent_tint: Color32::from_rgb(58, 54, 120),
    accent_text: Color32::from_rgb(176, 170, 255),
    error_fill: Color32::from_rgb(74, 30, 32),
    error_stroke: Color32::from_rgb(140, 60, 64),
    error_text: Color32::from_rgb(255, 186, 186),
    text: Color32::from_rgb(226, 226, 232),
    text_weak: Color32::from_rgb(156, 156, 170),
    track: Color32::from_rgb(58, 59, 68),
    drop_zone: Color32::from_rgb(36, 37, 44),
    drop_zone_hover: Color32::from_rgb(58, 54, 120),
    drop_zone_stroke: Color32::from_rgb(104, 100, 180),
    best_fill: Color32::from_rgb(26, 70, 44),
    best_text: Color32::from_rgb(150, 230, 176),
    worst_fill: Color32::from_rgb(84, 34, 36),
    worst_text: Color32::from_rgb(255, 170, 170),
    button: Color32::from_rgb(58, 59, 68),
    button_weak: Color32::from_rgb(50, 51, 60),
    field: Color32::from_rgb(18, 19, 22),
};

/// The palette of the theme `ui` is drawn in.
pub fn colours(ui: &egui::Ui) -> &'static Palette {
    palette_for(ui.visuals().dark_mode)
}

/// The palette of the theme the context is in now.
pub fn colours_of(ctx: &egui::Context) -> &'static Palette {
    palette_for(ctx.theme() == egui::Theme::Dark)
}

fn palette_for(dark_mode: bool) -> &'static Palette {
    if dark_mode { &DARK } else { &LIGHT }
}

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

/// Margins of panels.
pub const PANEL_MARGIN: Margin = Margin::symmetric(12, 8);

/// Search tab: the query column's width, the result tiles' size range, the drop zone.
pub const SEARCH_QUERY_WIDTH: f32 = 280.0;
/// The Search toolbar's colour dial (label, slider and value), so the toolbar wraps before it.
pub const SEARCH_DIAL_WIDTH: f32 = 270.0;
pub const SEARCH_TILE_MIN: f32 = 120.0;
pub const SEARCH_TILE_MAX: f32 = 240.0;
pub const SECTION_GAP: f32 = 6.0;
pub const DROP_ZONE_MARGIN: f32 = 16.0;
/// Outline of a result both compared systems returned.
pub const SHARED_RESULT: Color32 = Color32::from_rgb(22, 150, 110);
/// The machine's pre-filled hits on a sheet, not yet confirmed (distinct from a scorer's
/// own marks in the accent colour, and from the warning orange).
pub const MACHINE: Color32 = Color32::from_rgb(0, 150, 170);

/// One colour per system in charts.
pub const SERIES: [Color32; 6] = [
    ACCENT,
    Color32::from_rgb(230, 140, 30),
    Color32::from_rgb(22, 150, 110),
    Color32::from_rgb(200, 60, 110),
    Color32::from_rgb(90, 150, 220),
    Color32::from_rgb(120, 120, 130),
];

/// Which theme the window uses (View > Theme; saved with the UI state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ThemeChoice {
    /// Light or dark as the desktop is (egui follows the window system's setting).
    #[default]
    FollowSystem,
    Light,
    Dark,
}

impl ThemeChoice {
    pub const ALL: [ThemeChoice; 3] = [
        ThemeChoice::FollowSystem,
        ThemeChoice::Light,
        ThemeChoice::Dark,
    ];

    /// Its name in the View menu.
    pub fn title(self) -> &'static str {
        match self {
            ThemeChoice::FollowSystem => "Follow the system",
            ThemeChoice::Light => "Light",
            ThemeChoice::Dark => "Dark",
        }
    }

    fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::FollowSystem => egui::ThemePreference::System,
            ThemeChoice::Light => egui::ThemePreference::Light,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// Applies Vitrine's style to both of egui's themes and picks the one `choice` asks for.
pub fn apply(ctx: &egui::Context, choice: ThemeChoice) {
    ctx.style_mut_of(egui::Theme::Light, |style| vitrine_style(style, &LIGHT));
    ctx.style_mut_of(egui::Theme::Dark, |style| vitrine_style(style, &DARK));
    // Where the desktop does not say (X11 often does not), Vitrine is light.
    ctx.options_mut(|o| o.fallback_theme = egui::Theme::Light);
    ctx.set_theme(choice.preference());
}

fn vitrine_style(style: &mut egui::Style, p: &Palette) {
    style.spacing.item_spacing = Vec2::new(8.0, 6.0);
    style.spacing.button_padding = Vec2::new(10.0, 4.0);
    style.spacing.interact_size.y = 24.0;
    let v = &mut style.visuals;
    v.panel_fill = p.panel;
    v.window_fill = p.card;
    v.extreme_bg_color = p.track;
    v.text_edit_bg_color = Some(p.field);
    v.faint_bg_color = p.canvas;
    v.override_text_color = None;
    v.weak_text_color = Some(p.text_weak);
    // Selected items and selected text: the accent's tint with accent text; a focused
    // field is outlined in the accent (egui outlines it with the selection stroke), so it is
    // plain where the keys go.
    v.selection.bg_fill = p.accent_tint;
    v.selection.stroke = Stroke::new(1.5, p.accent_text);
    v.hyperlink_color = p.accent_text;
    v.warn_fg_color = WARNING;
    v.error_fg_color = p.error_text;
    v.widgets.noninteractive.fg_stroke = Stroke::new(1.0, p.text);
    v.widgets.noninteractive.bg_stroke = Stroke::new(1.0, p.card_stroke);
    for w in [
        &mut v.widgets.inactive,
        &mut v.widgets.hovered,
        &mut v.widgets.active,
        &mut v.widgets.open,
    ] {
        w.corner_radius = CornerRadius::same(5);
    }
    // A thin outline at rest, so a text field shows where it is on a card of its colour.
    v.widgets.inactive.bg_stroke = Stroke::new(1.0, p.card_stroke);
    v.widgets.inactive.weak_bg_fill = p.button_weak;
    v.widgets.inactive.bg_fill = p.button;
    v.widgets.hovered.weak_bg_fill = p.accent_tint;
    v.widgets.hovered.bg_stroke = Stroke::new(1.0, ACCENT);
    v.widgets.active.weak_bg_fill = p.accent_tint;
    v.widgets.active.bg_stroke = Stroke::new(1.0, ACCENT);
    v.interact_cursor = Some(egui::CursorIcon::PointingHand);
}

/// The frame of side panels, the top bar and the status line: the panel fill with the panel
/// margin.
pub fn panel_frame(ui: &egui::Ui) -> egui::Frame {
    egui::Frame::new()
        .fill(colours(ui).panel)
        .inner_margin(PANEL_MARGIN)
}
