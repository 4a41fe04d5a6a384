//! Catmull-Rom resizing of RGB images, the letterbox's resampling: the same arithmetic as
//! `image::imageops::resize` with `FilterType::CatmullRom` (filter, antialiasing support,
//! normalised weights, a vertical pass into `f32` then a horizontal one, rounding half away
//! from zero), so it gives the same bytes, at several times the speed.
//!
//! Why our own: `image`'s generic version recomputes nothing per pixel but works on
//! four-channel `f32` pixels fetched one by one, walks the vertical pass down columns, and
//! rounds with a `roundf` call per channel. On 2 cores that made resizing about a sixth of
//! indexing's CPU time, beside the model. Here each pass computes its weights once per output
//! row or column, the vertical pass runs along rows (vectorised), and rounding is a compare.

use image::RgbImage;

/// Half the width of the Catmull-Rom filter at scale 1.
const SUPPORT: f32 = 2.0;

/// The Catmull-Rom cubic (B = 0, C = ½), written as `image` writes it.
fn catmull_rom(x: f32) -> f32 {
    let (b, c) = (0.0f32, 0.5f32);
    let a = x.abs();
    let k = if a < 1.0 {
        (12.0 - 9.0 * b - 6.0 * c) * a.powi(3)
            + (-18.0 + 12.0 * b + 6.0 * c) * a.powi(2)
            + (6.0 - 2.0 * b)
    } else if a < 2.0 {
        (-b - 6.0 * c) * a.powi(3)
            + (6.0 * b + 30.0 * c) * a.powi(2)
            + (-12.0 * b - 48.0 * c) * a
            + (8.0 * b + 24.0 * c)
    } else {
        0.0
    };
    k / 6.0
}

/// The input samples of one output sample: the first index and the normalised weights.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The taps of every output sample when `from` samples become `to` (both > 0): the filter
/// widened by the shrink ratio, so that shrinking averages (antialiasing).
fn taps(from: u32, to: u32) -> Vec<Taps> {
    let ratio = from as f32 / to as f32;
    let sratio = ratio.max(1.0);
    let support = SUPPORT * sratio;
    (0..to)
        .map(|out| {
            let centre = (out as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, i64::from(from) - 1);
            let right = ((centre + support).ceil() as i64).clamp(left + 1, i64::from(from));
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| catmull_rom((i as f32 - centre) / sratio))
                .collect();
            let sum: f32 = weights.iter().sum();
            for w in &mut weights {
                *w /= sum;
            }
            Taps {
                first: left as usize,
                weights,
            }
        })
        .collect()
}

/// `v` clamped to 0…255 and rounded half away from zero, as `image` rounds, without a
/// `roundf` call: for `0 ≤ v < 2²³` the fraction `v − trunc(v)` is exact.
#[inline(always)]
fn to_u8(v: f32) -> u8 {
    let v = v.clamp(0.0, 255.0);
    let whole = v as u32;
    (whole + u32::from(v - whole as f32 >= 0.5)) as u8
}

/// `img` resized to `width × height` (both > 0) with the Catmull-Rom filter.
pub fn resize(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || (w, h) == (width, height) {
        return image::imageops::resize(
            img,
            width,
            height,
            image::imageops::FilterType::CatmullRom,
        );
    }
    let src = img.as_raw();
    let row_len = w as usize * 3;
    // Vertical pass: each output row is a weighted sum of input rows, in tap order.
    let mut tall = vec![0f32; height as usize * row_len];
    for (out, taps) in tall.chunks_exact_mut(row_len).zip(taps(h, height)) {
        for (i, &weight) in taps.weights.iter().enumerate() {
            let row = &src[(taps.first + i) * row_len..][..row_len];
            for (o, &v) in out.iter_mut().zip(row) {
                *o += f32::from(v) * weight;
            }
        }
    }
    // Horizontal pass: each output pixel a weighted sum of the row's pixels, then rounded.
    let columns = taps(w, width);
    let mut out = RgbImage::new(width, height);
    let mut pixels = out.chunks_exact_mut(3);
    for row in tall.chunks_exact(row_len) {
        for (taps, pixel) in columns.iter().zip(&mut pixels) {
            let mut t = [0f32; 3];
            for (i, &weight) in taps.weights.iter().enumerate() {
                let px = &row[(taps.first + i) * 3..][..3];
                for (t, &v) in t.iter_mut().zip(px) {
                    *t += v * weight;
                }
            }
            pixel.copy_from_slice(&t.map(to_u8));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 7919 + y * 104_729 + seed).wrapping_mul(2_654_435_761);
            Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
        })
    }

    #[test]
    fn gives_the_same_bytes_as_the_image_crate() {
        // Shrinks (antialiased), enlargements, odd sizes, one-pixel sides, and a smooth
        // image as well as noise.
        let cases = [
            (256, 256, 224, 224),
            (400, 533, 168, 224),
            (533, 400, 224, 168),
            (100, 37, 224, 83),
            (1, 9, 3, 5),
            (17, 1, 4, 1),
            (300, 200, 299, 201),
        ];
        for (i, &(w, h, tw, th)) in cases.iter().enumerate() {
            let smooth = RgbImage::from_fn(w, h, |x, y| {
                Rgb([
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x + y) % 256) as u8,
                ])
            });
            for img in [noise(w, h, i as u32), smooth] {
                let want =
                    image::imageops::resize(&img, tw, th, image::imageops::FilterType::CatmullRom);
                let got = resize(&img, tw, th);
                assert_eq!(got.dimensions(), (tw, th));
                let differ = got
                    .as_raw()
                    .iter()
                    .zip(want.as_raw())
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(differ, 0, "{w}×{h} → {tw}×{th}: {differ} bytes differ");
            }
        }
    }

    #[test]
    fn rounds_half_away_from_zero_and_clamps() {
        for v in [0.0f32, 0.49, 0.5, 1.5, 2.4999, 254.5, 255.0, 300.0, -3.0] {
            assert_eq!(to_u8(v), v.clamp(0.0, 255.0).round() as u8, "{v}");
        }
    }
}
