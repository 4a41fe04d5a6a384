//! Regular augmentation (ARCHITECTURE.md §5): a random horizontal flip, rotation, shift, shear and
//! a slight zoom, drawn from a seeded random stream so a run can be repeated exactly.
//!
//! One affine map does all of it (one resampling, bilinear); pixels that come from outside
//! the image take a fill colour (the shop background), so no black corners teach the model
//! that corners are black.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp};
use rand::Rng;

/// How strong the random transforms are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugmentRanges {
    /// Probability of a horizontal flip.
    pub flip_probability: f32,
    /// Largest rotation either way, in degrees.
    pub max_rotation_deg: f32,
    /// Largest shift either way, as a fraction of the side.
    pub max_shift: f32,
    /// Largest horizontal shear factor either way.
    pub max_shear: f32,
    /// Largest zoom in or out (0.1 = 0.9× … 1.1×).
    pub max_zoom: f32,
}

impl Default for AugmentRanges {
    fn default() -> Self {
        Self {
            flip_probability: 0.5,
            max_rotation_deg: 12.0,
            max_shift: 0.08,
            max_shear: 0.12,
            max_zoom: 0.1,
        }
    }
}

impl AugmentRanges {
    /// About twice the default ranges: the paper's "heavier augmentation" (its system V3),
    /// for photos taken less carefully than a catalogue's.
    pub fn heavy() -> Self {
        Self {
            flip_probability: 0.5,
            max_rotation_deg: 25.0,
            max_shift: 0.15,
            max_shear: 0.25,
            max_zoom: 0.25,
        }
    }
}

/// One drawn transform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub flip: bool,
    pub rotation_deg: f32,
    /// Shift as fractions of the width and height.
    pub shift: (f32, f32),
    pub shear: f32,
    pub zoom: f32,
}

impl Transform {
    /// Draws a transform within `ranges`.
    pub fn random(ranges: &AugmentRanges, rng: &mut impl Rng) -> Transform {
        let sym = |rng: &mut dyn rand::RngCore, max: f32| {
            if max > 0.0 {
                rng.random_range(-max..=max)
            } else {
                0.0
            }
        };
        Transform {
            flip: rng.random::<f32>() < ranges.flip_probability,
            rotation_deg: sym(rng, ranges.max_rotation_deg),
            shift: (sym(rng, ranges.max_shift), sym(rng, ranges.max_shift)),
            shear: sym(rng, ranges.max_shear),
            zoom: 1.0 + sym(rng, ranges.max_zoom),
        }
    }

    /// The source-to-output map for a `w × h` image: about the centre, zoom and flip, then
    /// shear, then rotation, then the shift.
    pub fn projection(&self, w: u32, h: u32) -> Option<Projection> {
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let (s, c) = self.rotation_deg.to_radians().sin_cos();
        let fx = if self.flip { -self.zoom } else { self.zoom };
        let fy = self.zoom;
        // A = R · Sh · S, with Sh = [[1, k], [0, 1]] and S = diag(fx, fy).
        let a = [
            c * fx,
            (c * self.shear - s) * fy,
            s * fx,
            (s * self.shear + c) * fy,
        ];
        let tx = cx + self.shift.0 * w as f32 - (a[0] * cx + a[1] * cy);
        let ty = cy + self.shift.1 * h as f32 - (a[2] * cx + a[3] * cy);
        Projection::from_matrix([a[0], a[1], tx, a[2], a[3], ty, 0.0, 0.0, 1.0])
    }

    /// `img` transformed, the same size, `fill` where the source is outside the image.
    pub fn apply(&self, img: &RgbImage, fill: [u8; 3]) -> RgbImage {
        match self.projection(img.width(), img.height()) {
            Some(p) => warp(img, p, Interpolation::Bilinear, Border::Constant(Rgb(fill))),
            None => img.clone(),
        }
    }
}

/// A random regular augmentation of `img` (a flip, rotation, shift, shear and zoom).
pub fn augment(
    img: &RgbImage,
    ranges: &AugmentRanges,
    fill: [u8; 3],
    rng: &mut impl Rng,
) -> RgbImage {
    Transform::random(ranges, rng).apply(img, fill)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A 32×32 image with one red pixel block at the top left.
    fn marked() -> RgbImage {
        let mut img = RgbImage::from_pixel(32, 32, Rgb([255, 255, 255]));
        for y in 4..8 {
            for x in 4..8 {
                img.put_pixel(x, y, Rgb([255, 0, 0]));
            }
        }
        img
    }

    fn red_centre(img: &RgbImage) -> (f32, f32) {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
        for (x, y, p) in img.enumerate_pixels() {
            if p[0] > 200 && p[1] < 80 {
                sx += x as f32;
                sy += y as f32;
                n += 1.0;
            }
        }
        assert!(n > 0.0, "the mark is gone");
        (sx / n, sy / n)
    }

    #[test]
    fn identity_flip_and_shift_move_pixels_where_expected() {
        let img = marked();
        let none = Transform {
            flip: false,
            rotation_deg: 0.0,
            shift: (0.0, 0.0),
            shear: 0.0,
            zoom: 1.0,
        };
        assert_eq!(none.apply(&img, [255; 3]), img);
        let flipped = Transform { flip: true, ..none }.apply(&img, [255; 3]);
        let (x, y) = red_centre(&flipped);
        assert!((x - 26.5).abs() < 1.0 && (y - 5.5).abs() < 1.0, "{x} {y}");
        let shifted = Transform {
            shift: (0.25, 0.0),
            ..none
        }
        .apply(&img, [255; 3]);
        let (x, _) = red_centre(&shifted);
        assert!((x - 13.5).abs() < 1.0, "{x}");
        // Rotating by 90° about the centre takes the top left to the top right.
        let turned = Transform {
            rotation_deg: 90.0,
            ..none
        }
        .apply(&img, [255; 3]);
        let (x, y) = red_centre(&turned);
        assert!((x - 25.5).abs() < 1.5 && (y - 5.5).abs() < 1.5, "{x} {y}");
    }

    #[test]
    fn the_same_seed_gives_the_same_augmentation() {
        let img = marked();
        let ranges = AugmentRanges::default();
        let a = augment(&img, &ranges, [255; 3], &mut ChaCha8Rng::seed_from_u64(3));
        let b = augment(&img, &ranges, [255; 3], &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
        let differs = (4..12)
            .any(|s| augment(&img, &ranges, [255; 3], &mut ChaCha8Rng::seed_from_u64(s)) != a);
        assert!(differs);
    }

    #[test]
    fn heavy_ranges_draw_stronger_transforms_within_their_bounds() {
        let largest = |ranges: &AugmentRanges| {
            let mut rng = ChaCha8Rng::seed_from_u64(5);
            let mut max = [0f32; 4];
            for _ in 0..400 {
                let t = Transform::random(ranges, &mut rng);
                let drawn = [
                    t.rotation_deg.abs(),
                    t.shift.0.abs(),
                    t.shear.abs(),
                    (t.zoom - 1.0).abs(),
                ];
                for (m, d) in max.iter_mut().zip(drawn) {
                    *m = m.max(d);
                }
            }
            max
        };
        let (light, heavy) = (AugmentRanges::default(), AugmentRanges::heavy());
        let (l, h) = (largest(&light), largest(&heavy));
        let bounds = [
            heavy.max_rotation_deg,
            heavy.max_shift,
            heavy.max_shear,
            heavy.max_zoom,
        ];
        for i in 0..4 {
            assert!(h[i] > l[i] * 1.5, "{i}: heavy {} vs default {}", h[i], l[i]);
            assert!(
                h[i] <= bounds[i] + 1e-6,
                "{i}: {} beyond {}",
                h[i],
                bounds[i]
            );
        }
    }
}
