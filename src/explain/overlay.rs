//! Drawing a [`Heatmap`] over an image: a colour map (Google's Turbo: dark blue → green →
//! yellow → red, perceptually ordered and readable on white shop backgrounds) whose opacity
//! grows with the value, so cold regions leave the garment as it is and hot ones are marked.

use super::Heatmap;
use image::{Rgba, RgbaImage};

/// The opacity of the hottest pixels: strong enough to read on a 128 px thumbnail, light
/// enough to still see the garment under it.
pub const DEFAULT_OPACITY: f32 = 0.6;

/// The smallest share of `opacity` a pixel gets: the coldest regions get a faint blue wash,
/// so the reader sees that the whole square was looked at.
const FLOOR: f32 = 0.15;

/// Turbo's colour of `v` in 0..1 (Mikhailov 2019, the published polynomial fit).
pub fn colour_of(v: f32) -> [u8; 3] {
    let x = v.clamp(0.0, 1.0);
    let poly = |c: [f32; 6]| {
        let y = c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))));
        (y.clamp(0.0, 1.0) * 255.0).round() as u8
    };
    [
        poly([
            0.135_721_38,
            4.615_392_6,
            -42.660_324,
            132.131_08,
            -152.942_4,
            59.286_38,
        ]),
        poly([
            0.091_402_61,
            2.194_188_4,
            4.842_966_6,
            -14.185_033,
            4.277_298_6,
            2.829_566,
        ]),
        poly([
            0.106_673_3,
            12.641_946,
            -60.582_05,
            110.362_77,
            -89.903_11,
            27.348_25,
        ]),
    ]
}

/// Blends `heat`, upsampled to the image, over `image` in place: each pixel moves towards
/// [`colour_of`] its value by `opacity × (FLOOR + (1 − FLOOR) × value)`. The image must be
/// the square the map covers (see the module docs of [`crate::explain`]), at any size.
pub fn overlay(image: &mut RgbaImage, heat: &Heatmap, opacity: f32) {
    let (width, height) = (image.width() as usize, image.height() as usize);
    if width == 0 || height == 0 {
        return;
    }
    let scaled = heat.upsample(width, height);
    let opacity = opacity.clamp(0.0, 1.0);
    for (pixel, &v) in image.pixels_mut().zip(scaled.values()) {
        let colour = colour_of(v);
        let alpha = opacity * (FLOOR + (1.0 - FLOOR) * v);
        let Rgba([r, g, b, a]) = *pixel;
        let mix = |base: u8, over: u8| {
            (f32::from(base) * (1.0 - alpha) + f32::from(over) * alpha).round() as u8
        };
        *pixel = Rgba([mix(r, colour[0]), mix(g, colour[1]), mix(b, colour[2]), a]);
    }
}
