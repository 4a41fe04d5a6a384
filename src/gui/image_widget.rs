//! The one image widget every tab draws pictures with (catalogue cards and details, search
//! results and queries, shopping carts and recommendations, scoring sheets): a picture from
//! the [`ThumbCache`](super::thumbs::ThumbCache) fitted into a rect with its aspect ratio
//! kept, a grey box while it loads, and a warning sign (its reason on hover) when it cannot
//! be shown.

use super::thumbs::Thumb;
use super::widgets;
use eframe::egui;
use egui::{Painter, Rect, Response, Sense, Ui, Vec2, pos2};

/// The largest rect with the aspect ratio of `size` centred in `within`.
pub(crate) fn fit_into(size: Vec2, within: Rect) -> Rect {
    if size.x <= 0.0 || size.y <= 0.0 {
        return within;
    }
    let scale = (within.width() / size.x).min(within.height() / size.y);
    Rect::from_center_size(within.center(), size * scale)
}

/// Paints a loaded image fitted into `rect` (keeping its aspect ratio), a grey box while it
/// loads, or a warning sign when it cannot be shown.
pub(crate) fn paint_image(painter: &Painter, thumb: &Thumb, rect: Rect) {
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

/// An image fitted into `size`, laid out like a widget, or its placeholder while it loads;
/// one that cannot be read says why on hover.
pub(crate) fn image_ui(ui: &mut Ui, thumb: &Thumb, size: Vec2) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    paint_image(ui.painter(), thumb, rect);
    match thumb {
        Thumb::Failed(reason) => response.on_hover_text(reason),
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use egui::vec2;

    #[test]
    fn images_keep_their_aspect_ratio_when_fitted() {
        let within = Rect::from_min_size(pos2(0.0, 0.0), vec2(100.0, 100.0));
        let r = fit_into(vec2(200.0, 100.0), within);
        assert_eq!((r.width(), r.height()), (100.0, 50.0));
        assert_eq!(r.center(), within.center());
        assert_eq!(fit_into(vec2(0.0, 10.0), within), within);
    }
}
